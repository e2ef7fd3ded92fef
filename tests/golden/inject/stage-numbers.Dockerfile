FROM python:3.11
WORKDIR /build
COPY . .
RUN pip install build && python3 -m build --wheel --outdir /dist

FROM python:3.11-slim
COPY --from=0 /dist /dist
RUN --mount=type=bind,from=0,source=/dist,target=/mnt/dist \
    pip install /mnt/dist/*.whl
