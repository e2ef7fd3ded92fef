FROM python:3.11
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -sSL https://example.invalid/req.txt | pip install -r /dev/stdin
