"""TLS handshakes for the tests of the service's HTTPS (unit, integration and container): which protocol versions a
server accepts, the certificate it serves, and proof that this machine's client can offer the old versions at all
(otherwise "TLS 1.1 is refused" would be the client's doing, not the server's)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import warnings

from cryptography import x509


def _client(version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the certificate is self-signed: its own test checks it
    if version is not None:
        context.minimum_version = context.maximum_version = version
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # so OpenSSL itself does not veto an old version client-side
    return context


def version(name: str) -> ssl.TLSVersion:
    """ssl.TLSVersion by name; the old ones are deprecated in Python's ssl module, and offered here on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(ssl.TLSVersion, name)


def handshake(port: int, name: str | None = None, host: str = "127.0.0.1") -> str:
    """The negotiated version (e.g. "TLSv1.2"), with the client pinned to `name` if given; raises ssl.SSLError (or
    OSError, a reset) when the server refuses."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = _client(version(name) if name else None)
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw) as tls_socket:
        return tls_socket.version()


def served_certificate(port: int, host: str = "127.0.0.1") -> x509.Certificate:
    with socket.create_connection((host, port), timeout=10) as raw, _client().wrap_socket(raw) as tls_socket:
        return x509.load_der_x509_certificate(tls_socket.getpeercert(binary_form=True))


def assert_self_signed(certificate: x509.Certificate) -> None:
    assert certificate.issuer == certificate.subject
    certificate.verify_directly_issued_by(certificate)  # signed by its own key: raises otherwise


@contextlib.contextmanager
def tls_server(context: ssl.SSLContext):
    """A loopback server that completes (or refuses) one TLS handshake with `context`; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            context.wrap_socket(connection, server_side=True).close()
        except (ssl.SSLError, OSError):
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(10)
        listener.close()


def client_can_offer(name: str, certfile: str, keyfile: str) -> bool:
    """Whether this machine's client completes a `name` handshake with a server that allows every version."""
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive.minimum_version = version("TLSv1")
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(certfile, keyfile)
    with tls_server(permissive) as port:
        try:
            return handshake(port, name) == name.replace("_", ".")
        except (ssl.SSLError, OSError):
            return False
