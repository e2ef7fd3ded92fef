# dockerpypi --inject: `dockerpypi build` fills this stage with the mirror
FROM scratch AS pypi-mirror

# config="secrets": the settings come as build secrets (credentials, Docker 20.10).
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=secret,id=dockerpypi-env,target=/run/dockerpypi/env \
    --mount=type=secret,id=dockerpypi-pip-conf,target=/run/dockerpypi/pip.conf \
    --mount=type=secret,id=dockerpypi-uv-toml,target=/run/dockerpypi/uv.toml \
    --mount=type=secret,id=dockerpypi-pydistutils-cfg,target=/run/dockerpypi/pydistutils.cfg \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    set -eux; \
    apt-get update; \
    # the compilers some wheels still need
    apt-get install -y --no-install-recommends \
        build-essential python3-dev python3-venv \
    ; \
    rm -rf /var/lib/apt/lists/*; \
    python3 -m venv /opt/venv; \
    # everything below goes into the virtual environment
    /opt/venv/bin/pip install --upgrade pip setuptools wheel \
    && /opt/venv/bin/pip install -r /tmp/requirements.txt \
    || { echo "pip failed"; exit 1; }
ENV PATH=/opt/venv/bin:$PATH
