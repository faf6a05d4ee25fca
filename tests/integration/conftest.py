"""Real gunicorn (production config) in front of a real SeaweedFS, both on loopback ephemeral ports."""

from __future__ import annotations

import hashlib
import os

import boto3
import pytest

from devtools.gunicorn_server import GunicornServer
from devtools.seaweed import SeaweedS3

BUCKET = "integration-files"
BIG_KEY = "big/64MiB.bin"
BIG_SIZE = 64 * 1024 * 1024


@pytest.fixture(scope="session")
def seaweed():
    with SeaweedS3(BUCKET) as server:
        yield server


@pytest.fixture(scope="session")
def s3(seaweed):
    return boto3.client("s3", endpoint_url=seaweed.endpoint_url, region_name="us-east-1")


@pytest.fixture(scope="session")
def big_object(s3) -> str:
    """A 64 MiB object of non-repeating bytes; returns its SHA-256."""
    data = b"".join(hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(BIG_SIZE // 32))
    s3.put_object(Bucket=BUCKET, Key=BIG_KEY, Body=data)
    return hashlib.sha256(data).hexdigest()


def server_env(seaweed: SeaweedS3, **extra: str) -> dict[str, str]:
    return {
        "FILES_BUCKET": BUCKET,
        "AWS_ENDPOINT_URL_S3": seaweed.endpoint_url,
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "APP_VERSION": "integration",
        **extra,
    }


@pytest.fixture(scope="session")
def server(seaweed, big_object, tmp_path_factory):
    """The service with the production gunicorn config, shared by the tests that do not stop it."""
    with GunicornServer(server_env(seaweed), log_dir=tmp_path_factory.mktemp("gunicorn")) as running:
        yield running


@pytest.fixture
def start_server(seaweed, big_object, tmp_path):
    """start_server(**env): a server of the test's own, for tests that signal or stop it, or change its settings."""
    started = []

    def start(**extra_env: str) -> GunicornServer:
        running = GunicornServer(server_env(seaweed, **extra_env), log_dir=tmp_path / str(len(started))).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()
