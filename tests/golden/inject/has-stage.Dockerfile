FROM scratch AS pypi-mirror

FROM python:3.11-slim
RUN pip install requests
