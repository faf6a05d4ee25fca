"""The production image with TLS=self-signed, run read-only as on Fargate: HTTPS on the contract port with a pair
generated at start into the container's /dev/shm (a tmpfs), TLS 1.2 or newer only, no key material in its output."""

from __future__ import annotations

import hashlib
import os
import re
import ssl

import pytest
from cryptography.hazmat.primitives import hashes

from download_service import contract, tls
from tests.container.conftest import BUCKET, json_lines, start_container
from tests.tls_probe import assert_self_signed, client_can_offer, handshake, served_certificate


@pytest.fixture(scope="module")
def tls_container(engine, image, stack, tmp_path_factory):
    running = start_container(
        engine, image, stack, tmp_path_factory.mktemp("tls-container"), TLS=contract.TLS_SELF_SIGNED
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.remove()


def _started(container) -> dict:
    (record,) = [line for line in json_lines(container.logs()) if line.get("event") == "starting"]
    return record


def test_https_download_is_byte_identical(tls_container, s3_client):
    assert tls_container.base_url.startswith("https://")
    payload = os.urandom(2 * 1024 * 1024 + 5)
    s3_client.put_object(Bucket=BUCKET, Key="tls/data.bin", Body=payload)
    status, headers, body = tls_container.get(f"{contract.FILES_PATH}tls/data.bin", timeout=30)
    assert status == 200
    assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()
    assert headers["Server"] == contract.SERVICE_NAME


def test_the_served_certificate_is_self_signed(tls_container):
    certificate = served_certificate(tls_container.port)
    assert_self_signed(certificate)
    assert certificate.fingerprint(hashes.SHA256()).hex() == _started(tls_container)["tls_cert_sha256"]


def test_only_tls_1_2_and_newer(tls_container, tmp_path):
    pair = tls.generate(parent=str(tmp_path))  # only to show this client can offer TLS 1.1 at all
    assert client_can_offer("TLSv1_1", pair.certfile, pair.keyfile)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(tls_container.port, "TLSv1_1")
    assert handshake(tls_container.port, "TLSv1_2") == "TLSv1.2"
    assert handshake(tls_container.port, "TLSv1_3") == "TLSv1.3"


def test_the_pair_lives_in_tmpfs_readable_by_the_app_user_only(tls_container):
    certfile = _started(tls_container)["tls_certfile"]
    directory = certfile.rsplit("/", 1)[0]
    assert directory.startswith(f"{tls.TLS_PARENT}/{contract.SERVICE_NAME}-tls-")
    mounts = tls_container.exec("cat", "/proc/mounts")
    assert re.search(rf"^\S+ {re.escape(tls.TLS_PARENT)} tmpfs ", mounts, re.MULTILINE), mounts
    modes = tls_container.exec("stat", "-c", "%a %u %n", directory, certfile, f"{directory}/key.pem").split("\n")
    uid = tls_container.exec("id", "-u").strip()
    assert [line.split()[:2] for line in modes if line] == [["700", uid], ["600", uid], ["600", uid]]


def test_no_key_material_in_the_output(tls_container):
    directory = _started(tls_container)["tls_certfile"].rsplit("/", 1)[0]
    key = tls_container.exec("cat", f"{directory}/key.pem")
    assert "PRIVATE KEY" in key  # the key was read (so the checks below compare against something)
    handshake(tls_container.port, "TLSv1_2")
    logs = tls_container.logs()
    assert "PRIVATE KEY" not in logs
    assert not [line for line in key.splitlines() if line and not line.startswith("-----") and line in logs]
