# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

from python:3.11-slim as base
# dockerpypi --inject: mirror, secrets and cache added for this step
run --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    --network=host --security=insecure \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install --no-cache-dir requests
  # dockerpypi --inject: mirror, secrets and cache added for this step
  RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
      --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
      --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
      --mount=type=ssh \
      --mount=type=secret,id=netrc,target=/root/.netrc \
      export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
      if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
      pip install private-pkg
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    test -f requirements.txt || pip install -r requirements.in; echo done
