# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

FROM python:3.11
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    curl -sSL https://example.invalid/req.txt | pip install -r /dev/stdin
