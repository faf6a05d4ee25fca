"""TLS=self-signed on the production gunicorn config: HTTPS on the same port with a pair generated at start into
tmpfs, TLS 1.2 or newer only, the key never in a log line, nothing left behind; plain HTTP without it."""

from __future__ import annotations

import hashlib
import json
import ssl
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from download_service import contract
from download_service.contract import Event
from download_service.tls import TLS_PARENT
from tests.tls_probe import assert_self_signed, client_can_offer, handshake, served_certificate

from .conftest import BIG_KEY, BIG_SIZE


@pytest.fixture(scope="module")
def tls_server(stack, big_object):
    with stack.server(TLS=contract.TLS_SELF_SIGNED) as running:
        yield running


def _starting(server) -> dict:
    (record,) = [r for r in map(json.loads, server.log_lines()) if r.get("event") == Event.STARTING]
    return record


def test_https_serves_downloads_byte_identical(tls_server, big_object):
    with tls_server.urlopen(f"/files/{BIG_KEY}", timeout=60) as response:
        body = response.read()
        assert response.headers["Server"] == contract.SERVICE_NAME  # not gunicorn and its version
    assert len(body) == BIG_SIZE
    assert hashlib.sha256(body).hexdigest() == big_object


def test_the_certificate_is_self_signed_and_generated_into_tmpfs(tls_server):
    certificate = served_certificate(tls_server.port)
    assert_self_signed(certificate)
    started = _starting(tls_server)
    assert started["tls"] == contract.TLS_SELF_SIGNED
    assert certificate.fingerprint(hashes.SHA256()).hex() == started["tls_cert_sha256"]
    directory = Path(started["tls_certfile"]).parent
    assert directory.parent == Path(TLS_PARENT)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert sorted(path.name for path in directory.iterdir()) == ["cert.pem", "key.pem"]
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_newer_are_accepted(tls_server, name):
    assert handshake(tls_server.port, name) == name.replace("_", ".")


def test_tls_1_1_is_refused(tls_server):
    directory = Path(_starting(tls_server)["tls_certfile"]).parent
    assert client_can_offer("TLSv1_1", str(directory / "cert.pem"), str(directory / "key.pem"))
    with pytest.raises(ssl.SSLError):
        handshake(tls_server.port, "TLSv1_1")
    with tls_server.urlopen(contract.HEALTH_PATH) as response:  # and the server goes on serving
        assert response.status == 200


def test_no_key_material_in_the_logs(tls_server):
    key = (Path(_starting(tls_server)["tls_certfile"]).parent / "key.pem").read_text()
    handshake(tls_server.port, "TLSv1_2")
    logs = "\n".join(tls_server.log_lines())
    assert "PRIVATE KEY" not in logs
    body = [line for line in key.splitlines() if line and not line.startswith("-----")]
    assert len(body) > 20
    assert not [line for line in body if line in logs]


def test_the_pair_is_removed_when_the_server_stops(stack, big_object):
    server = stack.server(TLS=contract.TLS_SELF_SIGNED).start()
    directory = Path(_starting(server)["tls_certfile"]).parent
    assert directory.is_dir()
    server.stop()
    assert not directory.exists()


def test_plain_http_by_default(server):
    with server.urlopen(contract.HEALTH_PATH) as response:
        assert response.headers["Server"] == contract.SERVICE_NAME
    assert _starting(server)["tls"] == "off"
    with pytest.raises((ssl.SSLError, OSError)):
        handshake(server.port)
