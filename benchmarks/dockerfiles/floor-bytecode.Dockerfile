# The floor of a step that runs uv where the image has none: uv, bind-mounted
# from the build context for the step only, installs the wheels of a
# bind-mounted directory with no index, no configuration and no cache, and
# compiles bytecode as pip does. The image holds no uv.
# BASE_IMAGE: base.Dockerfile's image (a venv at /opt/venv, first on PATH).
ARG BASE_IMAGE
FROM scratch AS pypi-mirror
FROM ${BASE_IMAGE}
RUN --mount=type=bind,from=pypi-mirror,target=/wheels \
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
    --mount=type=bind,source=uv,target=/tmp/uv-bin/uv \
    /tmp/uv-bin/uv pip install --python /opt/venv/bin/python --no-index --find-links /wheels \
        --no-cache --compile-bytecode -r /tmp/requirements.txt
