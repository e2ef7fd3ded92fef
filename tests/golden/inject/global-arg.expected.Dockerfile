# syntax=docker/dockerfile:1.7
# check=error=true
ARG PYTHON_VERSION=3.12
ARG BASE=python:${PYTHON_VERSION}-slim

# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

# The build stage.
# It compiles the wheels.
FROM --platform=$BUILDPLATFORM ${BASE} AS build
ARG PYTHON_VERSION
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install --prefix=/install -r requirements.txt
