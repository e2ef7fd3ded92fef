# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

FROM python:3.11-bookworm
WORKDIR /src
COPY . .
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    python -m pip install --upgrade pip && pip install .
RUN pip list && pip freeze > /tmp/frozen.txt && pip --version
