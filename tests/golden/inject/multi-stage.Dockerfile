FROM python:3.11 AS builder
WORKDIR /src
COPY . .
RUN pip wheel --wheel-dir /wheels -r requirements.txt \
 && pip3.11 download --dest /sdists build

FROM python:3.11-slim AS runtime
COPY --from=builder /wheels /wheels
RUN pip install --no-index --find-links=/wheels /wheels/* && rm -rf /wheels
RUN sh -c 'python3 -m pip install gunicorn'
FROM runtime AS test
RUN pip3 install pytest
