# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

FROM python:3.12-slim-bookworm
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /uvx /bin/
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1
# Install the dependencies first, then the project.
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    export UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    uv sync --frozen --no-install-project --no-dev
ADD . /app
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    --mount=type=cache,target=/root/.cache/uv \
    export UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    uv sync --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH"
