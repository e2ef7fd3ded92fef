# syntax=docker/dockerfile:1
FROM python:3.11
RUN <<EOF
#!/usr/bin/env python3
import subprocess
subprocess.run("pip install requests", shell=True, check=True)
EOF
