FROM python:3.11
ARG PACKAGE=requests
RUN ["pip", "install", "$PACKAGE"]
