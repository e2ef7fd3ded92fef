# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

FROM python:3.11-slim AS base
RUN python3 -m venv /opt/venv && chown -R 1000:1000 /opt/venv
ENV PATH=/opt/venv/bin:$PATH
USER 1000
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-1000,target=/var/cache/dockerpypi/pip,uid=1000,gid=1000 \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install requests
USER 1000:100
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-uv-1000,target=/var/cache/dockerpypi/uv,uid=1000,gid=100 \
    export UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    uv pip install httpx
USER root
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install --upgrade pip

FROM base AS child
USER 10001
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-10001,target=/var/cache/dockerpypi/pip,uid=10001,gid=10001 \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install rich
FROM child
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-10001,target=/var/cache/dockerpypi/pip,uid=10001,gid=10001 \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install click
