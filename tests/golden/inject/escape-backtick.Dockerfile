# escape=`
FROM python:3.11
RUN python -m pip install `
      --no-cache-dir `
      -r requirements.txt
