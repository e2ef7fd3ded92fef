# dockerpypi --inject: `dockerpypi build` fills this stage with the mirror
FROM scratch AS pypi-mirror

FROM python:3.11-slim
RUN useradd --create-home app
USER app
WORKDIR /home/app
# dockerpypi --inject: mirror, secrets and cache added for this step
# dockerpypi --inject: USER app is a name, so the secrets are mode 0444 and nothing is cached; write USER <uid> or pass --uid
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=secret,id=dockerpypi-env,target=/run/dockerpypi/env,mode=0444 \
    --mount=type=secret,id=dockerpypi-pip-conf,target=/run/dockerpypi/pip.conf,mode=0444 \
    --mount=type=secret,id=dockerpypi-uv-toml,target=/run/dockerpypi/uv.toml,mode=0444 \
    --mount=type=secret,id=dockerpypi-pydistutils-cfg,target=/run/dockerpypi/pydistutils.cfg,mode=0444 \
    export PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install --user requests && uv pip install --user httpx
