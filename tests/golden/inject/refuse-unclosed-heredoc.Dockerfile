FROM python:3.11
RUN <<EOF
pip install requests
