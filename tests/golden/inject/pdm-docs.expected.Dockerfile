ARG PYTHON_BASE=3.12-slim
# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

# build stage
FROM python:$PYTHON_BASE AS builder

# install PDM
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pip install -U pdm
# disable update check
ENV PDM_CHECK_UPDATE=false
# copy files
COPY pyproject.toml pdm.lock README.md /project/
COPY src/ /project/src

# install dependencies and project into the local packages directory
WORKDIR /project
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pdm-0,target=/var/cache/dockerpypi/pdm \
    export PDM_CACHE_DIR=/var/cache/dockerpypi/pdm; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    pdm install --check --prod --no-editable

# run stage
FROM python:$PYTHON_BASE

# retrieve packages from build stage
COPY --from=builder /project/.venv/ /project/.venv
ENV PATH="/project/.venv/bin:$PATH"
# set command/entrypoint, adapt to fit your needs
COPY src /project/src
CMD ["python", "src/__main__.py"]
