FROM python:3.11-slim
RUN ["pip", "install", "--no-cache-dir", "requests>=2.31,<3"]
RUN ["python3", "-m", "pip", \
     "install", "flask"]
RUN ["python3", "-c", "print('no installer here')"]
CMD ["python3"]
