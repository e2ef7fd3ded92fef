# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

FROM python:3.11-slim
RUN useradd --create-home app
USER app
WORKDIR /home/app
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-1000,target=/var/cache/dockerpypi/pip,uid=1000,gid=1000 \
    --mount=type=cache,id=dockerpypi-uv-1000,target=/var/cache/dockerpypi/uv,uid=1000,gid=1000 \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install --user requests && uv pip install --user httpx
