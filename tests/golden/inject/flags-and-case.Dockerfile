from python:3.11-slim as base
run --network=host --security=insecure pip install --no-cache-dir requests
  RUN --mount=type=ssh \
      --mount=type=secret,id=netrc,target=/root/.netrc pip install private-pkg
RUN test -f requirements.txt || pip install -r requirements.in; echo done
