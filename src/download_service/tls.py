"""TLS from the ALB to the task (TLS=self-signed): a key and a self-signed certificate generated at start.

The ALB encrypts to its targets but does not validate their certificates, so each task makes its own: nothing to
distribute, rotate or leak with the image. The files go to a fresh 0700 directory under /dev/shm, a tmpfs: they
live in memory only, never on the image, the read-only root filesystem or the task's disk-backed /tmp volume, and
vanish with the container. gunicorn.conf.py generates them in the master before it binds and forks, so every
worker loads the same pair. The key is never logged; only the certificate's fingerprint is.
"""

from __future__ import annotations

import datetime
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .contract import SERVICE_NAME

TLS_PARENT = "/dev/shm"  # noqa: S108  # nosec B108 - tmpfs by design: key material must not reach a disk
#: RSA 2048: the key type every ALB security policy negotiates with targets; generated in about 0.1 s.
KEY_BITS = 2048
#: The ALB ignores expiry; a task outliving its certificate still serves. A year keeps scanners quiet.
VALID_DAYS = 365


@dataclass(frozen=True)
class SelfSigned:
    directory: str
    certfile: str
    keyfile: str
    fingerprint_sha256: str


def generate(parent: str = TLS_PARENT) -> SelfSigned:
    """A new key and self-signed certificate in a new private directory under `parent` (files mode 0600)."""
    directory = tempfile.mkdtemp(prefix=f"{SERVICE_NAME}-tls-", dir=parent)  # mode 0700, unpredictable name
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVICE_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clock skew between the task and a client
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVICE_NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    keyfile, certfile = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    _write_private(
        keyfile,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    _write_private(certfile, certificate.public_bytes(serialization.Encoding.PEM))
    return SelfSigned(directory, certfile, keyfile, certificate.fingerprint(hashes.SHA256()).hex())


def _write_private(path: str, data: bytes) -> None:
    # O_EXCL | O_NOFOLLOW: never write through a file or link someone else put there first.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """TLS 1.2 or newer with Python's default (forward-secret, AEAD-first) ciphers; no client certificates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


def remove(pair: SelfSigned) -> None:
    shutil.rmtree(pair.directory, ignore_errors=True)
