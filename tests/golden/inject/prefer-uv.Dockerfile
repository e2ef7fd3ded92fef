# --prefer-uv: plain pip install steps run uv when the image has it.
FROM python:3.12-slim
RUN python -m pip install --no-cache-dir -U pip
RUN pip install --no-cache-dir \
        -r requirements.txt \
        "uvicorn[standard]>=0.30"
RUN /opt/venv/bin/pip install --no-compile --pre flask
RUN pip install --user httpx
RUN pip install gunicorn && gunicorn --version
RUN ["pip", "install", "six"]
RUN uv pip install --system rich
