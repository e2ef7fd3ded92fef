# The recipe of Docker's Python guide: a cache mount for pip and the
# requirements bind-mounted; the index comes in as a build argument (which
# pip reads from the environment, and which the image history keeps).
# CACHE_ID gives a cold build a cache mount of its own.
# BASE_IMAGE: base.Dockerfile's image (a venv at /opt/venv, first on PATH).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG PIP_INDEX_URL
ARG CACHE_ID=pip
RUN --mount=type=cache,id=bench-${CACHE_ID},target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=requirements.txt \
    python -m pip install -r requirements.txt
