# config="secrets": the settings come as build secrets (credentials, Docker 20.10).
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN set -eux; \
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
