FROM python:3.11-slim
RUN useradd --create-home app
USER app
WORKDIR /home/app
RUN pip install --user requests && uv pip install --user httpx
