FROM python:3.11-bookworm
WORKDIR /src
COPY . .
RUN python -m pip install --upgrade pip && pip install .
RUN pip list && pip freeze > /tmp/frozen.txt && pip --version
