"""Flask test client over moto's in-process S3, with a record of every S3 API call the app makes.

moto is started once per session and the bucket emptied between tests; boto3 clients are cached per S3 setting,
because building a client (loading the S3 model) costs more than most tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto import mock_aws

from download_service.app import create_app
from download_service.s3 import S3Clients
from download_service.settings import Settings

BUCKET = "test-files"


@dataclasses.dataclass
class Service:
    app: Flask
    client: FlaskClient
    s3: object  # the app's own boto3 client
    calls: list[str]

    def s3_calls(self) -> list[str]:
        return list(self.calls)


@pytest.fixture(scope="session")
def _moto():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def s3(_moto):
    """The moto bucket, empty, and a boto3 client to put objects into it."""
    for page in _moto.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            _moto.delete_object(Bucket=BUCKET, Key=item["Key"])
    return _moto


class _RecordingClients(S3Clients):
    """The production S3Clients, plus a log of API calls that a test can reset."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.calls: list[str] = []
        self.get().meta.events.register("before-call.s3", self._record)

    def _record(self, event_name: str, **_) -> None:
        self.calls.append(event_name.rsplit(".", 1)[-1])


@pytest.fixture(scope="session")
def _clients_cache(_moto) -> dict:
    return {}


@pytest.fixture
def make_service(s3, _clients_cache) -> Callable[..., Service]:
    def factory(**overrides) -> Service:
        settings = Settings(files_bucket=BUCKET, **overrides)
        cache_key = (settings.s3_connect_timeout, settings.s3_read_timeout, settings.s3_max_attempts, settings.threads)
        clients = _clients_cache.get(cache_key)
        if clients is None:
            clients = _clients_cache[cache_key] = _RecordingClients(settings)
        clients.calls.clear()
        app = create_app(settings, clients)
        return Service(app=app, client=app.test_client(), s3=clients.get(), calls=clients.calls)

    return factory


@pytest.fixture
def service(make_service) -> Service:
    return make_service()
