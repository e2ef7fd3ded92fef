FROM python:3.11-slim AS base
RUN python3 -m venv /opt/venv && chown -R 1000:1000 /opt/venv
ENV PATH=/opt/venv/bin:$PATH
USER 1000
RUN pip install requests
USER 1000:100
RUN uv pip install httpx
USER root
RUN pip install --upgrade pip

FROM base AS child
USER 10001
RUN pip install rich
FROM child
RUN pip install click
