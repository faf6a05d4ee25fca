"""A throwaway certificate authority for HTTPS on loopback: SeaweedFS's S3 over TLS in the benchmarks and tests.

Clients verify the server as they would on AWS (botocore checks the chain and that the certificate names
127.0.0.1), only against this CA instead of the system's: point them at `ca_file` (AWS_CA_BUNDLE for the service,
`verify=` for a boto3 client). Made fresh at each start, valid for a day, never written outside the caller's folder.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: RSA 2048, as the certificates of S3's own endpoints: the handshake costs what it costs against AWS.
KEY_BITS = 2048
LOOPBACK = ipaddress.ip_address("127.0.0.1")


@dataclass(frozen=True)
class LoopbackTLS:
    ca_file: str  # what clients trust
    cert_file: str  # the server's certificate, for 127.0.0.1 and localhost
    key_file: str


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def loopback_tls(directory: str | os.PathLike) -> LoopbackTLS:
    """A new CA and a server certificate it signed for 127.0.0.1, as PEM files in `directory` (created)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, server_key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "download-service loopback test CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(LOOPBACK))]), ca_name, server_key.public_key())
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(LOOPBACK), x509.DNSName("localhost")]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pair = LoopbackTLS(str(folder / "ca.pem"), str(folder / "server.pem"), str(folder / "server-key.pem"))
    Path(pair.ca_file).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    Path(pair.cert_file).write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(pair.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key_pem)
    return pair
