# The download service: gunicorn + Flask streaming S3 objects. Runs on Fargate as a non-root user with a read-only
# root filesystem; the only writable places it needs are /dev/shm (gunicorn heartbeats) and a /tmp mount.
#
#   docker build --build-arg APP_VERSION=$(git rev-parse --short HEAD) -t download-service .
#
# BASE_IMAGE defaults to ECR Public's mirror of the Docker official image (no Docker Hub rate limits in CodeBuild).
# The tests override it with a local stand-in (tests/container/images.py); both stages must use the same base
# because the virtualenv's interpreter is a symlink into it.
ARG BASE_IMAGE=public.ecr.aws/docker/library/python:3.12-slim

# ---- builder: resolve nothing, install exactly the hashed lock into a virtualenv -------------------------------
FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
COPY requirements/runtime.txt /tmp/runtime.txt
# --only-binary: wheels only, so no compiler is ever needed (or present) in either stage.
# Then pip (and setuptools, which older venvs add) leave the venv: nothing installs packages at run time.
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: -r /tmp/runtime.txt \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools
COPY src/ /app/src/
# The root filesystem is read-only at run time: compile the bytecode now instead of on every start.
RUN /opt/venv/bin/python -m compileall -q /app/src

# ---- runtime ------------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# A fixed numeric uid/gid: Kubernetes-style runAsNonRoot checks and file ownership do not depend on names.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app/src /app/src

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# Fargate creates a bind mount (the task's /tmp volume) root-owned 0755 unless the image declares the path a
# VOLUME: then it copies the image's /tmp, mode 1777, and the non-root app can write there on a read-only root.
VOLUME ["/tmp"]
USER 10001:10001
WORKDIR /app
# download_service.contract.PORT (tests/container checks they agree).
EXPOSE 8080

# The version changes with every commit, so it comes last: only metadata differs, every file layer stays cached
# (and is not pushed again to ECR).
ARG APP_VERSION=dev
LABEL org.opencontainers.image.title="download-service" \
      org.opencontainers.image.description="Streams S3 objects as HTTP downloads (Flask + gunicorn)" \
      org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.revision="${APP_VERSION}"
ENV APP_VERSION="${APP_VERSION}"
# Exec form: gunicorn is PID 1 and gets ECS's SIGTERM itself. All settings live in the config file.
CMD ["gunicorn", "--config", "/app/src/gunicorn.conf.py"]
