"""Fixtures for the container tests: the image (built once per session), a SeaweedFS on the host, a running container.

The image runs as it would on Fargate: read-only root filesystem, a tmpfs /tmp, its own non-root user, the
gunicorn command from the image. With podman it gets its own network namespace (slirp4netns) that can reach the
host's loopback as 10.0.2.2, where SeaweedFS listens, and the service port is published on 127.0.0.1 only.
A docker engine uses the host network instead, with the service bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools import images
from devtools.gunicorn_server import GunicornServer
from devtools.local_stack import LocalStack
from devtools.seaweed import free_ports
from download_service import contract

BUCKET = "container-files"
READY_TIMEOUT_S = 60


@pytest.fixture(scope="session")
def engine() -> images.Engine:
    try:
        return images.find_engine()
    except images.NoEngineError as error:
        # Never a skip: CI must run these, and a developer must learn what is missing.
        pytest.fail(f"container tests need a container engine: {error}", pytrace=False)


@pytest.fixture(scope="session")
def image(engine: images.Engine) -> str:
    try:
        return images.build_image(engine, version="container-test", log=lambda msg: print(f"\n{msg}"))
    except images.NoEngineError as error:
        pytest.fail(str(error), pytrace=False)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"image build failed:\n{error.stdout}\n{error.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """SeaweedFS on the host with BUCKET; the containers get its service_env (run_args)."""
    with LocalStack(BUCKET, root=tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def s3_client(stack):
    return stack.client()


@dataclass
class Container:
    """One `<engine> run --rm` in the foreground: its exit status is the container's, its output goes to a file."""

    engine: images.Engine
    name: str
    base_url: str
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def exec(self, *args: str, timeout: float = 30) -> str:
        return self.engine.run("exec", self.name, *args, timeout=timeout).stdout

    def get(self, path: str, timeout: float = 10):
        """(status, headers, body) for GET base_url + path; HTTP errors are answers, not exceptions."""
        # TLS=self-signed: the container's own certificate, generated at its start; tests/tls_probe.py checks it.
        context = GunicornServer.client_context() if self.base_url.startswith("https:") else None
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout, context=context) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"container exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if self.get(contract.HEALTH_PATH, timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"container not healthy after {timeout} s:\n{self.logs()}")

    def remove(self) -> None:
        """Teardown: force-remove whatever is left (the container is --rm, so normally nothing)."""
        if self.process.poll() is None:
            self.engine.run("rm", "--force", "--time", "0", self.name, timeout=60, check=False)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def run_args(engine: images.Engine, stack: LocalStack, **service_env: str) -> tuple[list[str], str]:
    """(network/port/env arguments, base URL of the service) for this engine; `service_env` adds to or overrides
    the service's environment (e.g. TLS=self-signed)."""
    (host_port,) = free_ports(1)
    if engine.name == "podman":
        # The image's own bind (0.0.0.0:contract.PORT) inside; published on the host's loopback only.
        args = [
            "--network",
            "slirp4netns:allow_host_loopback=true",
            "--publish",
            f"127.0.0.1:{host_port}:{contract.PORT}",
        ]
        env = stack.service_env(AWS_ENDPOINT_URL_S3=f"http://10.0.2.2:{stack.s3.port}", **service_env)
    else:
        args = ["--network", "host"]
        env = stack.service_env(HOST="127.0.0.1", PORT=str(host_port), **service_env)
    for name, value in env.items():
        args += ["--env", f"{name}={value}"]
    scheme = "https" if env.get("TLS") == contract.TLS_SELF_SIGNED else "http"
    return args, f"{scheme}://127.0.0.1:{host_port}"


def start_container(
    engine: images.Engine, image: str, stack: LocalStack, log_dir: Path, *extra: str, **service_env: str
) -> Container:
    name = f"download-service-test-{uuid.uuid4().hex[:8]}"
    args, base_url = run_args(engine, stack, **service_env)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            engine.cmd("run", "--rm", "--name", name, "--read-only", "--tmpfs", "/tmp", *args, *extra, image),
            env=engine.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Container(engine, name, base_url, log_path, process)


@pytest.fixture(scope="module")
def container(engine, image, stack, tmp_path_factory):
    """The service container shared by the read-only tests of a module; the SIGTERM test starts its own."""
    running = start_container(engine, image, stack, tmp_path_factory.mktemp("container"))
    try:
        running.wait_ready()
        yield running
    finally:
        running.remove()


def json_lines(text: str) -> list[dict]:
    """A container's output lines as JSON objects; a line that is not one fails the test (CloudWatch would store it
    as an unparsed message)."""
    found = []
    for line in filter(str.strip, text.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        assert isinstance(value, dict), f"not a JSON log line: {line!r}"
        found.append(value)
    return found
