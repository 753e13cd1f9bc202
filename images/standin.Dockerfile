# The vLLM stand-in of the `local` profile: one simulated vLLM replica per pod (the twin's engine
# model behind vLLM's OpenAI API and /metrics), python -m tubedemo.rehearsal.standin.
# Build from the repository root:
#   tubedemo images build            # or: docker build -f images/standin.Dockerfile .
# BASE: any image with python 3.11, pip and useradd on PATH (tests pass a local Debian base).
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app
COPY images/standin-requirements.txt /app/requirements.txt
RUN pip install --no-deps -r /app/requirements.txt
# Only the tubedemo package (no wheel build, no CLI dependencies): the context is trimmed by
# images/standin.Dockerfile.dockerignore.
COPY tubedemo /app/tubedemo

RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin standin
USER 10001

EXPOSE 8000
ENTRYPOINT ["python", "-m", "tubedemo.rehearsal.standin"]
