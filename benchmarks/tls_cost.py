"""P7: what TLS from the ALB to the task costs the service: worker CPU per GiB streamed over HTTPS (TLS=self-signed)
beside plain HTTP, and worker CPU per new connection (the handshake), same object and same run, back to back.

Both servers run side by side from the same SeaweedFS; repetitions alternate which goes first, as P1 does. The
client is this process (http.client, 1 MiB reads, certificate not verified: it is the server's own self-signed
one); its CPU is reported too, since it decrypts what the workers encrypt (on AWS that is the ALB's share).
"""

from __future__ import annotations

import time

from download_service import contract

from .measures import _connection, http_get, service_download

GiB = 2**30


def _client_cpu(run):
    started = time.process_time()
    result = run()
    return result, time.process_time() - started


def stream_cost(plain_server, tls_server, key: str, size: int, tls_first: bool) -> dict:
    """Worker and client CPU seconds per GiB, and MiB/s, for one download of `key` each way."""
    sides = [("tls", tls_server), ("plain", plain_server)]
    results = {}
    for name, server in sides if tls_first else reversed(sides):
        (elapsed, worker_cpu), client_cpu = _client_cpu(lambda server=server: service_download(server, key, size))
        results[name] = (elapsed, worker_cpu, client_cpu)
    gib = size / GiB
    (plain_s, plain_cpu, plain_client), (tls_s, tls_cpu, tls_client) = results["plain"], results["tls"]
    return {
        "plain_worker_cpu_s_per_gib": plain_cpu / gib,
        "tls_worker_cpu_s_per_gib": tls_cpu / gib,
        "tls_extra_worker_cpu_s_per_gib": (tls_cpu - plain_cpu) / gib,
        "worker_cpu_ratio": tls_cpu / plain_cpu if plain_cpu else 0.0,
        "plain_client_cpu_s_per_gib": plain_client / gib,
        "tls_client_cpu_s_per_gib": tls_client / gib,
        "plain_mib_s": size / 2**20 / plain_s,
        "tls_mib_s": size / 2**20 / tls_s,
    }


def _worker_cpu_per_connection(server, connections: int) -> float:
    """Worker CPU milliseconds per new connection carrying one GET /health."""
    workers = server.workers()
    before = sum(sum(w.cpu_times()[:2]) for w in workers)
    for _ in range(connections):
        connection = _connection(server.url)
        assert http_get(connection, contract.HEALTH_PATH)[0] == 200
        connection.close()
    return (sum(sum(w.cpu_times()[:2]) for w in workers) - before) * 1000 / connections


def connection_cost(plain_server, tls_server, connections: int) -> dict:
    plain = _worker_cpu_per_connection(plain_server, connections)
    tls = _worker_cpu_per_connection(tls_server, connections)
    return {"plain_worker_cpu_ms_per_connection": plain, "tls_worker_cpu_ms_per_connection": tls}
