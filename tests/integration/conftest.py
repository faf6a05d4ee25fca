"""Real gunicorn (production config) in front of a real SeaweedFS, both on loopback ephemeral ports."""

from __future__ import annotations

import hashlib

import pytest

from devtools.faultproxy import FaultProxy
from devtools.gunicorn_server import GunicornServer
from devtools.local_stack import LocalStack

BUCKET = "integration-files"
BIG_KEY = "big/64MiB.bin"
BIG_SIZE = 64 * 1024 * 1024


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """SeaweedFS with BUCKET; every server of the suite is started from it (stack.server(**env))."""
    with LocalStack(BUCKET, root=tmp_path_factory.mktemp("stack"), APP_VERSION="integration") as running:
        yield running


@pytest.fixture(scope="session")
def seaweed(stack):
    return stack.s3


@pytest.fixture(scope="session")
def s3(stack):
    return stack.client()


@pytest.fixture(scope="session")
def big_object(s3) -> str:
    """A 64 MiB object of non-repeating bytes; returns its SHA-256."""
    data = b"".join(hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(BIG_SIZE // 32))
    s3.put_object(Bucket=BUCKET, Key=BIG_KEY, Body=data)
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def proxy(seaweed):
    """A FaultProxy in front of SeaweedFS (devtools/faultproxy.py) for the servers of a module; healthy after each
    test that used it."""
    with FaultProxy(seaweed.port) as running:
        yield running


@pytest.fixture(autouse=True)
def _healthy_proxy_after_each_test(request):
    yield
    if "proxy" in request.fixturenames:
        request.getfixturevalue("proxy").passthrough()


@pytest.fixture(scope="session")
def server(stack, big_object):
    """The service with the production gunicorn config, shared by the tests that do not stop it."""
    with stack.server() as running:
        yield running


@pytest.fixture
def start_server(stack, big_object):
    """start_server(**env): a server of the test's own, for tests that signal or stop it, or change its settings."""
    started = []

    def start(**extra_env: str) -> GunicornServer:
        running = stack.server(**extra_env).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()
