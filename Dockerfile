# The download service: gunicorn + Flask streaming S3 objects. Runs on Fargate as a non-root user with a read-only
# root filesystem; the only writable places it needs are /dev/shm (gunicorn heartbeats) and a /tmp mount.
#
#   docker build --build-arg APP_VERSION=$(git rev-parse --short HEAD) -t download-service .
#
# The base is ECR Public's mirror of the Docker official image (no Docker Hub rate limits in CodeBuild), pinned by
# digest so a rebuild of the same commit gets the same base. `--build-arg BASE_IMAGE=<image>` replaces it (the local
# tests build on a stand-in: devtools/images.py); both stages must use the same base because the virtualenv's
# interpreter is a symlink into it.
#
# The pin is the one literal FROM line below, because that is the only form Dependabot reads and updates (its docker
# parser matches `FROM <image>[:tag][@digest]`, not ARG defaults: dependabot-core#2057); `make pin-base` rewrites it
# from the registry where that is reachable (devtools/pin_base.py). The stages take `${BASE_IMAGE:-pinned-base}`
# rather than an ARG default naming the stage: podman/buildah 1.28 resolves a stage name only from that form or an
# explicit --build-arg (BuildKit from either), and an overridden build never pulls the unused pinned stage.
#
# Provenance of the first pin (2026-12-01): the digest below is the OCI image index (16 manifests; linux/amd64,
# which Fargate runs here, is sha256:d657ab0ade19f404a6ccc883ab399540de667aff751748ce23c07330c5a89e64) of
# `python:3.12-slim` as published on Docker Hub, listed in github.com/docker-library/repo-info at
# repos/python/remote/3.12-slim.md, commit 3effc3eac4f65a99767fd721667a1bf157496ba4 (Python 3.12.13 on Debian
# trixie, layers dated 2026-08-05). ECR Public's docker/library repositories are Docker's mirror of those images;
# this machine cannot reach either registry, so run `make pin-base` once where it can to confirm the mirror serves
# the same index (it rewrites the line if not). Later moves: `git log -L '/AS pinned-base/,+1:Dockerfile'`.
ARG BASE_IMAGE
FROM public.ecr.aws/docker/library/python:3.12-slim@sha256:646fb0bca3dd3ea1bcc6feb72c17ed16eed6e10cffc732fcc1478bd3e7f02d7b AS pinned-base

# ---- builder: resolve nothing, install exactly the hashed lock into a virtualenv -------------------------------
FROM ${BASE_IMAGE:-pinned-base} AS builder
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
FROM ${BASE_IMAGE:-pinned-base}
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
