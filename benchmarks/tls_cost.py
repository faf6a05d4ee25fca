"""P7: what a new connection costs the service, plain HTTP and TLS (TLS=self-signed, the handshake): worker CPU
per connection carrying one `GET /health`, both servers side by side. What TLS costs per GiB streamed is in P1
(transports.py), where every transport runs in the same repetition.

The client is this process (http.client, certificate not verified: it is the server's own self-signed one).
"""

from __future__ import annotations

from download_service import contract

from .harness import worker_cpu
from .measures import _connection, http_get


def _worker_cpu_per_connection(server, connections: int) -> float:
    """Worker CPU milliseconds per new connection carrying one GET /health."""
    before = worker_cpu(server)
    for _ in range(connections):
        connection = _connection(server.url)
        assert http_get(connection, contract.HEALTH_PATH)[0] == 200
        connection.close()
    return (worker_cpu(server) - before) * 1000 / connections


def connection_cost(plain_server, tls_server, connections: int) -> dict:
    plain = _worker_cpu_per_connection(plain_server, connections)
    tls = _worker_cpu_per_connection(tls_server, connections)
    return {"plain_worker_cpu_ms_per_connection": plain, "tls_worker_cpu_ms_per_connection": tls}
