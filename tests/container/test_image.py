"""The production image, built from the repository's Dockerfile and run the way Fargate runs it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from devtools import images
from download_service import contract
from tests.container.conftest import BUCKET, json_lines, start_container

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()


# --- the Dockerfile itself (no engine needed) -----------------------------------------------------------------------


def test_dockerfile_exposes_the_contract_port():
    assert re.findall(r"^EXPOSE\s+(\d+)\s*$", DOCKERFILE, re.MULTILINE) == [str(contract.PORT)]


def test_dockerfile_runs_gunicorn_with_the_repo_config():
    (cmd,) = re.findall(r"^CMD\s+(.+)$", DOCKERFILE, re.MULTILINE)
    assert json.loads(cmd) == ["gunicorn", "--config", "/app/src/gunicorn.conf.py"]  # exec form
    assert (REPO / "src/gunicorn.conf.py").is_file()
    assert "COPY src/ /app/src/" in DOCKERFILE


def test_default_base_is_ecr_public_python_pinned_by_digest():
    pinned = r"^FROM public\.ecr\.aws/docker/library/python:3\.12-slim@sha256:[0-9a-f]{64} AS pinned-base$"
    assert re.search(pinned, DOCKERFILE, re.MULTILINE)


def test_dockerignore_admits_only_what_the_build_copies():
    lines = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"  # deny by default: tests, venvs, cdk.out, node_modules, .git never reach the context
    assert {line[1:] for line in lines if line.startswith("!")} == {"requirements/runtime.txt", "src/"}


# --- the built image ----------------------------------------------------------------------------------------------


def test_image_user_is_numeric_and_not_root(engine, image):
    user = engine.run("image", "inspect", "--format", "{{.Config.User}}", image, timeout=60).stdout.strip()
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert gid.isdigit(), user
    assert int(uid) != 0
    assert int(gid) != 0


def test_image_labels_carry_the_version(engine, image):
    labels = json.loads(engine.run("image", "inspect", "--format", "{{json .Config.Labels}}", image, timeout=60).stdout)
    assert labels["org.opencontainers.image.version"] == "container-test"
    assert labels["org.opencontainers.image.title"] == contract.SERVICE_NAME


def test_tmp_is_writable_by_the_app_user_on_a_read_only_root(engine, image):
    # Fargate: a bind mount at /tmp copies the image's /tmp (1777) only when the image declares it a VOLUME.
    # Here: no tmpfs from the engine either, so only the declared volume can make /tmp writable.
    volumes = json.loads(
        engine.run("image", "inspect", "--format", "{{json .Config.Volumes}}", image, timeout=60).stdout
    )
    assert "/tmp" in (volumes or {})
    probe = "touch /tmp/probe && stat -c %a /tmp"
    no_engine_tmpfs = ["--read-only-tmpfs=false"] if engine.name == "podman" else []  # docker adds none
    result = engine.run(
        "run",
        "--rm",
        "--read-only",
        *no_engine_tmpfs,
        "--entrypoint",
        "sh",
        image,
        "-c",
        probe,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1777"]


def test_final_stage_has_no_build_tools_or_pip(engine, image):
    probe = "for tool in gcc cc make pip pip3; do command -v $tool; done; true"
    found = engine.run("run", "--rm", "--entrypoint", "sh", image, "-c", probe, timeout=60).stdout.split()
    assert found == []


def test_bad_configuration_stops_with_one_line(engine, image):
    result = engine.run("run", "--rm", "--read-only", "--tmpfs", "/tmp", image, timeout=60, check=False)
    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].endswith("FILES_BUCKET: required but not set"), lines


# --- the running service --------------------------------------------------------------------------------------------


def test_health(container):
    status, headers, body = container.get(contract.HEALTH_PATH)
    assert status == 200
    assert headers.get_content_type() == "application/json"
    assert isinstance(json.loads(body), dict)


def test_download_is_byte_identical(container, s3_client):
    payload = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, odd tail
    s3_client.put_object(Bucket=BUCKET, Key="reports/data.bin", Body=payload)
    status, headers, body = container.get(f"{contract.FILES_PATH}reports/data.bin", timeout=30)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert int(headers["Content-Length"]) == len(payload)
    assert headers["Content-Disposition"].startswith("attachment")


def test_missing_key_is_404_json(container):
    status, headers, body = container.get(f"{contract.FILES_PATH}no/such/object.txt")
    assert status == 404
    assert headers.get_content_type() == "application/json"
    assert "error" in json.loads(body)


def test_runs_as_non_root_with_gunicorn_as_pid_1(container):
    status = container.exec("cat", "/proc/1/status")
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.MULTILINE)
    assert uids, status
    assert uids.group(1) != "0"  # real uid
    assert uids.group(2) != "0"  # effective uid
    cmdline = container.exec("cat", "/proc/1/cmdline").split("\0")
    assert Path(cmdline[1]).name == "gunicorn", cmdline
    assert cmdline[2:4] == ["--config", "/app/src/gunicorn.conf.py"]


def test_root_filesystem_is_read_only(container):
    result = container.engine.run("exec", container.name, "touch", "/app/probe", timeout=30, check=False)
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr


def test_logs_are_json_lines(container):
    container.get(contract.HEALTH_PATH)
    events = [line.get("event") for line in json_lines(container.logs())]
    assert "ready" in events, container.logs()


def test_sigterm_exits_cleanly_within_the_stop_timeout(engine, image, stack, tmp_path):
    running = start_container(engine, image, stack, tmp_path)
    try:
        running.wait_ready()
        started = time.monotonic()
        engine.run("kill", "--signal", "TERM", running.name, timeout=30)
        try:
            code = running.process.wait(timeout=contract.ECS_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {contract.ECS_STOP_TIMEOUT_S} s after SIGTERM:\n{running.logs()}")
        elapsed = time.monotonic() - started
        assert code == 0, running.logs()
        assert elapsed < contract.GRACEFUL_TIMEOUT_S, elapsed  # idle: no reason to use the grace period
        assert "shutdown" in [line.get("event") for line in json_lines(running.logs())], running.logs()
    finally:
        running.remove()


def test_no_engine_fails_with_what_to_install(monkeypatch):
    monkeypatch.setattr(images.shutil, "which", lambda _tool: None)
    with pytest.raises(images.NoEngineError, match=r"run `make system-deps`"):
        images.find_engine()
