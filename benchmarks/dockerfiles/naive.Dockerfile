# The naive recipe: the wheels are copied into the image and installed from there.
# They stay in a layer, and so does pip's cache.
# BASE_IMAGE: base.Dockerfile's image (a venv at /opt/venv, first on PATH).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY wheels/ /wheels/
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-index --find-links /wheels -r /tmp/requirements.txt
