# dockerpypi --inject: `dockerpypi build` fills this stage with the mirror
FROM scratch AS pypi-mirror

FROM python:3.11-bookworm
WORKDIR /src
COPY . .
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=secret,id=dockerpypi-env,target=/run/dockerpypi/env \
    --mount=type=secret,id=dockerpypi-pip-conf,target=/run/dockerpypi/pip.conf \
    --mount=type=secret,id=dockerpypi-uv-toml,target=/run/dockerpypi/uv.toml \
    --mount=type=secret,id=dockerpypi-pydistutils-cfg,target=/run/dockerpypi/pydistutils.cfg \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    python -m pip install --upgrade pip && pip install .
RUN pip list && pip freeze > /tmp/frozen.txt && pip --version
