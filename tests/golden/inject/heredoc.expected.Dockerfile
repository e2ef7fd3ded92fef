# syntax=docker/dockerfile:1
# dockerpypi --inject: `dockerpypi build` fills these stages with the mirror and its settings
FROM scratch AS pypi-mirror
FROM scratch AS dockerpypi-config

FROM python:3.11-slim
# dockerpypi --inject: mirror, secrets and cache added for this step
# dockerpypi --inject: the heredoc script sources the mirror settings in its first lines
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    <<EOF
export PIP_CACHE_DIR=/var/cache/dockerpypi/pip;
if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi;
set -eux
pip install --no-cache-dir flask
python -c "import flask"
EOF
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    <<EOT bash
  set -e
  pip install gunicorn
EOT
# dockerpypi --inject: mirror, secrets and cache added for this step
# dockerpypi --inject: the heredoc script sources the mirror settings in its first lines
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    <<-EOF
	#!/usr/bin/env bash
export PIP_CACHE_DIR=/var/cache/dockerpypi/pip;
if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi;
	pip install uvicorn
	EOF
COPY <<EOF /app/install.txt
RUN pip install this-is-data-not-an-instruction
EOF
RUN <<EOF
#!/usr/bin/env python3
print("no installer called here")
EOF
# dockerpypi --inject: mirror, secrets and cache added for this step
RUN --mount=type=bind,from=pypi-mirror,target=/tmp/pypi,readonly \
    --mount=type=bind,from=dockerpypi-config,target=/run/dockerpypi,rw \
    --mount=type=cache,id=dockerpypi-pip-0,target=/var/cache/dockerpypi/pip \
    export PIP_CACHE_DIR=/var/cache/dockerpypi/pip; \
    if [ -f /run/dockerpypi/env ]; then . /run/dockerpypi/env; fi; \
    cat <<'EOF' > /app/setup.sh && sh /app/setup.sh
pip install -r /app/requirements.txt
EOF
