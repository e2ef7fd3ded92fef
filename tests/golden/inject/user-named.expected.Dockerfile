# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

FROM python:3.11-slim
RUN useradd --create-home app
USER app
WORKDIR /home/app
# dockerpypi --inject: mirror, secrets and cache added for this step
# dockerpypi --inject: USER app is a name, so the secrets are mode 0444 and nothing is cached; write USER <uid> or pass --uid
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    export PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install --user requests && uv pip install --user httpx
