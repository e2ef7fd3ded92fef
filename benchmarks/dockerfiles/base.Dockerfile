# The base every recipe builds FROM: the test image with a virtual
# environment first on PATH. It is built once per run, so that a cold build
# times the install step, not the creation of the venv.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
