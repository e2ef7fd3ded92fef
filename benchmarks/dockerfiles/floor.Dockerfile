# The floor: uv installs the wheels of a bind-mounted directory, with no
# index, no configuration and no cache. Nothing gives a build its packages
# with less work.
# BASE_IMAGE: base.Dockerfile's image (a venv at /opt/venv, first on PATH).
ARG BASE_IMAGE
FROM scratch AS pypi-mirror
FROM ${BASE_IMAGE}
COPY uv /usr/local/bin/uv
RUN --mount=type=bind,from=pypi-mirror,target=/wheels \
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
    uv pip install --python /opt/venv/bin/python --no-index --find-links /wheels --no-cache \
        -r /tmp/requirements.txt
