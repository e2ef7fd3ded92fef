# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

FROM python:3.12
COPY --from=ghcr.io/astral-sh/uv:latest /uv /bin/uv
COPY requirements.txt .
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    export UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    uv pip install --system -r requirements.txt
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install uv-dynamic-versioning && uv --quiet tool install ruff
