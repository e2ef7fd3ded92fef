FROM python:3.11
RUN --mount=type=secret,id=dockerpypi-pip-conf,target=/etc/pip.conf pip install requests
