FROM python:3.12
COPY --from=ghcr.io/astral-sh/uv:latest /uv /bin/uv
COPY requirements.txt .
RUN uv pip install --system -r requirements.txt
RUN pip install uv-dynamic-versioning && uv --quiet tool install ruff
