# syntax=docker/dockerfile:1.7
# check=error=true
ARG PYTHON_VERSION=3.12
ARG BASE=python:${PYTHON_VERSION}-slim

# The build stage.
# It compiles the wheels.
FROM --platform=$BUILDPLATFORM ${BASE} AS build
ARG PYTHON_VERSION
RUN pip install --prefix=/install -r requirements.txt
