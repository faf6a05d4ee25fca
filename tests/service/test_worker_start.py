"""gunicorn.conf.py's post_worker_init: each worker builds its S3 client before it accepts a connection. Left to
the first request, building it (botocore's S3 model and endpoint rules) made every new worker's first answer pay
it (docs/performance.md); a failure to build it must not stop the worker, whose first request then tries again."""

from __future__ import annotations

import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from download_service.app import create_app
from download_service.s3 import S3Clients
from download_service.settings import Settings

CONFIG = Path(__file__).resolve().parents[2] / "src" / "gunicorn.conf.py"


class CountingClients(S3Clients):
    """S3Clients whose client is a placeholder, counting how often one was built (or `failures` attempts fail)."""

    def __init__(self, settings: Settings, failures: int = 0) -> None:
        super().__init__(settings)
        self.built, self.failures = 0, failures

    def _create(self):
        self.built += 1
        if self.built <= self.failures:
            raise RuntimeError("no S3 client today")
        return object()


@pytest.fixture
def post_worker_init(monkeypatch):
    monkeypatch.setenv("FILES_BUCKET", "test-files")
    for name in ("TLS", "METRICS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    return runpy.run_path(str(CONFIG))["post_worker_init"]


def _worker(clients: S3Clients) -> SimpleNamespace:
    settings = Settings(files_bucket="test-files")
    return SimpleNamespace(wsgi=create_app(settings, clients), log=logging.getLogger("test.worker"), pid=4242)


def test_the_worker_builds_its_s3_client_before_its_first_request(post_worker_init):
    clients = CountingClients(Settings(files_bucket="test-files"))
    post_worker_init(_worker(clients))
    assert clients.built == 1
    clients.get()  # what the first request does: the client is already there
    assert clients.built == 1


def test_a_client_that_cannot_be_built_at_start_is_logged_and_tried_again_by_the_first_request(
    post_worker_init, caplog
):
    clients = CountingClients(Settings(files_bucket="test-files"), failures=1)
    with caplog.at_level(logging.ERROR, logger="test.worker"):
        post_worker_init(_worker(clients))  # does not raise: the worker still starts
    [record] = caplog.records
    assert record.getMessage() == "S3 client not built at worker start"
    assert record.exc_info[0] is RuntimeError
    assert clients.get() is not None
    assert clients.built == 2
