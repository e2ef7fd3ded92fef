FROM python:3.11
RUN pip install --no-index --find-links /srv/wheels/ requests
