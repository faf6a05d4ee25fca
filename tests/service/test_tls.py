"""The self-signed pair (download_service/tls.py): where and how it is written, what it is, what it negotiates."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization

from download_service import contract, tls
from tests.tls_probe import assert_self_signed, client_can_offer, handshake, served_certificate, tls_server


@pytest.fixture
def pair(tmp_path):
    generated = tls.generate(parent=str(tmp_path))
    yield generated
    tls.remove(generated)


def test_the_pair_is_private_to_the_service_user(pair, tmp_path):
    directory = Path(pair.directory)
    assert directory.parent == tmp_path
    assert directory.name.startswith(f"{contract.SERVICE_NAME}-tls-")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in (pair.keyfile, pair.certfile):
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600


def test_a_new_pair_every_start(tmp_path):
    first, second = tls.generate(parent=str(tmp_path)), tls.generate(parent=str(tmp_path))
    assert first.directory != second.directory
    assert Path(first.keyfile).read_bytes() != Path(second.keyfile).read_bytes()


def test_the_certificate_is_self_signed_and_matches_the_key(pair):
    with tls_server(tls.server_context(pair.certfile, pair.keyfile)) as port:
        certificate = served_certificate(port)
    assert_self_signed(certificate)
    assert certificate.fingerprint(hashes.SHA256()).hex() == pair.fingerprint_sha256
    key = serialization.load_pem_private_key(Path(pair.keyfile).read_bytes(), password=None)
    assert key.public_key().public_numbers() == certificate.public_key().public_numbers()
    assert key.key_size == tls.KEY_BITS
    assert certificate.not_valid_after_utc > certificate.not_valid_before_utc


@pytest.mark.parametrize("name", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_newer_are_accepted(pair, name):
    with tls_server(tls.server_context(pair.certfile, pair.keyfile)) as port:
        assert handshake(port, name) == name.replace("_", ".")


@pytest.mark.parametrize("name", ["TLSv1", "TLSv1_1"])
def test_older_versions_are_refused(pair, name):
    assert client_can_offer(name, pair.certfile, pair.keyfile)  # so the refusal below is the server's
    with tls_server(tls.server_context(pair.certfile, pair.keyfile)) as port, pytest.raises(ssl.SSLError):
        handshake(port, name)


def test_remove_leaves_nothing(tmp_path):
    generated = tls.generate(parent=str(tmp_path))
    tls.remove(generated)
    assert list(tmp_path.iterdir()) == []
