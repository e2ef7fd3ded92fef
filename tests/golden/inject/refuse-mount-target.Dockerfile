FROM python:3.11
COPY wheels /wheels
RUN --mount=type=bind,source=wheels,target=/tmp/pypi \
    pip install --no-index --find-links /tmp/pypi requests
