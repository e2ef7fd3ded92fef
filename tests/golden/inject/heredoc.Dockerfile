# syntax=docker/dockerfile:1
FROM python:3.11-slim
RUN <<EOF
set -eux
pip install --no-cache-dir flask
python -c "import flask"
EOF
RUN <<EOT bash
  set -e
  pip install gunicorn
EOT
RUN <<-EOF
	#!/usr/bin/env bash
	pip install uvicorn
	EOF
COPY <<EOF /app/install.txt
RUN pip install this-is-data-not-an-instruction
EOF
RUN <<EOF
#!/usr/bin/env python3
print("no installer called here")
EOF
RUN cat <<'EOF' > /app/setup.sh && sh /app/setup.sh
pip install -r /app/requirements.txt
EOF
