# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config
FROM scratch AS dockerpypi-uv

# --prefer-uv: plain pip install steps run uv when the image has it.
FROM python:3.12-slim
# dockerpypi --inject: mirror, secrets and cache added for this step
# dockerpypi --inject --prefer-uv: uv installs (the image's, or the mirror's mounted for this step), else the pip call as written
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=bind,from=dockerpypi-uv,target=/run/dockerpypi/uv \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    if command -v uv >/dev/null 2>&1; then uv pip install --python "$(command -v python)" --compile-bytecode -U pip; else python -m pip install --no-cache-dir -U pip; fi
# dockerpypi --inject: mirror, secrets and cache added for this step
# dockerpypi --inject --prefer-uv: uv installs (the image's, or the mirror's mounted for this step), else the pip call as written
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=bind,from=dockerpypi-uv,target=/run/dockerpypi/uv \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    if command -v uv >/dev/null 2>&1; then uv pip install --python "$(command -v python3)" --compile-bytecode -r requirements.txt 'uvicorn[standard]>=0.30'; else pip install --no-cache-dir -r requirements.txt 'uvicorn[standard]>=0.30'; fi
# dockerpypi --inject: mirror, secrets and cache added for this step
# dockerpypi --inject --prefer-uv: uv installs (the image's, or the mirror's mounted for this step), else the pip call as written
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=bind,from=dockerpypi-uv,target=/run/dockerpypi/uv \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    if command -v uv >/dev/null 2>&1; then uv pip install --python /opt/venv/bin/python --prerelease allow flask; else /opt/venv/bin/pip install --no-compile --pre flask; fi
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install --user httpx
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install gunicorn && gunicorn --version
# dockerpypi --inject: mirror, secrets and cache added for this step
# dockerpypi --inject: exec form rewritten as shell form (same words), so the step can source the mirror settings
# dockerpypi --inject --prefer-uv: uv installs (the image's, or the mirror's mounted for this step), else the pip call as written
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=bind,from=dockerpypi-uv,target=/run/dockerpypi/uv \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    if command -v uv >/dev/null 2>&1; then uv pip install --python "$(command -v python3)" --compile-bytecode six; else pip install six; fi
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-uv-0,target=/var/cache/dockerpypi/uv \
    export UV_CACHE_DIR=/var/cache/dockerpypi/uv UV_LINK_MODE=copy; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    uv pip install --system rich
