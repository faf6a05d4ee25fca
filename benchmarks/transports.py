"""P1: every transport in the same run. S3 plain and over HTTPS (SeaweedFS's TLS port, its certificate verified),
times the client side plain and over TLS (TLS=self-signed): four servers side by side from one SeaweedFS.

For each transport and repetition: one download of the object through the service, back to back with a direct boto3
read over the same S3 transport (order alternating), giving MiB/s, their ratio, the workers' CPU seconds per GiB
(schedstat, to the nanosecond), the clients' CPU, and how busy the machine's cores were during each side with the
CPU-seconds they spent per GiB: on two cores shared by S3, service and client, sides near 100 % busy are bound by
the cores, and their ratio by direct / service of those CPU-seconds (`core_bound_ratio`). Then worker CPU
per small request on a kept-alive connection (what the ALB's reused connections cost), for the capacity model.
Repetitions rotate the order of the transports, so neither always goes first.
"""

from __future__ import annotations

import contextlib
import time

import psutil

from download_service import contract

from .harness import Bench, MiB, settle, worker_cpu
from .measures import _connection, direct_get, http_get

GiB = 2**30
#: name: (S3 over HTTPS, client over TLS). On AWS S3 is always HTTPS; prod adds TLS from the ALB (tls_to_tasks).
TRANSPORTS = {
    "s3-http client-http": (False, False),
    "s3-http client-tls": (False, True),
    "s3-https client-http": (True, False),
    "s3-https client-tls": (True, True),
}


def start_servers(bench: Bench, stack: contextlib.ExitStack, **env: str) -> dict:
    """One running service per transport, entered on `stack`."""
    servers = {}
    for name, (s3_https, client_tls) in TRANSPORTS.items():
        tls = {"TLS": contract.TLS_SELF_SIGNED} if client_tls else {}
        servers[name] = stack.enter_context(bench.service(s3_https=s3_https, **tls, **env))
    return servers


def warm(server, key: str, size: int, tries: int = 8) -> int:
    """Once the workers are quiet (settle: one may still be booting, which would pass for having streamed), download
    `key` until every worker has streamed it once (at most `tries` times; returns how many it took). A worker's
    first stream pays one-off costs (its pool thread, first-touch memory: ~20 ms of CPU measured) that are no part
    of the copy path; the kernel picks the worker, so a worker it never picks is never measured either."""
    settle(server)
    pending = {worker.pid for worker in server.workers()}
    for attempt in range(1, tries + 1):
        before = {w.pid: sum(w.cpu_times()[:2]) for w in server.workers()}
        _download(server, key, size)
        pending -= {w.pid for w in server.workers() if sum(w.cpu_times()[:2]) - before[w.pid] > 0.01}
        if not pending:
            return attempt
    return tries


def _download(server, key: str, size: int) -> None:
    connection = _connection(server.url)
    status, received = http_get(connection, f"/files/{key}")
    connection.close()
    assert (status, received) == (200, size), (status, received)


def _busy() -> float:
    """CPU seconds the whole machine has been busy (every process: S3, service, client, anything else)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _timed(run) -> tuple[float, float, float]:
    """(seconds, this process's CPU seconds, CPU seconds the whole machine was busy) for run()."""
    started, cpu, busy = time.perf_counter(), time.process_time(), _busy()
    run()
    return time.perf_counter() - started, time.process_time() - cpu, _busy() - busy


def stream(bench: Bench, server, s3_https: bool, key: str, size: int, direct_first: bool) -> dict:
    """One download through `server` and one direct boto3 read over the same S3 transport."""
    client = bench.direct(s3_https)
    workers = {}

    def via_service():
        before = worker_cpu(server)
        _download(server, key, size)
        workers["cpu"] = worker_cpu(server) - before

    def via_s3():
        assert direct_get(bench, key, client) == size

    if direct_first:
        direct, service = _timed(via_s3), _timed(via_service)
    else:
        service, direct = _timed(via_service), _timed(via_s3)
    gib, cores = size / GiB, psutil.cpu_count()
    return {
        "service_mib_s": size / MiB / service[0],
        "direct_mib_s": size / MiB / direct[0],
        "ratio": direct[0] / service[0],
        "worker_cpu_s_per_gib": workers["cpu"] / gib,
        "client_cpu_s_per_gib": service[1] / gib,
        "direct_client_cpu_s_per_gib": direct[1] / gib,
        "machine_busy_service": service[2] / service[0] / cores,
        "machine_busy_direct": direct[2] / direct[0] / cores,
        # Everything the machine spent per GiB (S3 server, service, client): with both sides near 100 % busy, the
        # throughput ratio cannot exceed direct / service of these.
        "machine_cpu_s_per_gib_service": service[2] / gib,
        "machine_cpu_s_per_gib_direct": direct[2] / gib,
        "core_bound_ratio": direct[2] / service[2],
    }


def request_cost(server, key: str, requests: int) -> float:
    """Worker CPU milliseconds per GET of a small object on one kept-alive connection."""
    connection = _connection(server.url)
    assert http_get(connection, f"/files/{key}")[0] == 200  # the connection (and a TLS handshake) before counting
    before = worker_cpu(server)
    for _ in range(requests):
        assert http_get(connection, f"/files/{key}")[0] == 200
    spent = worker_cpu(server) - before
    connection.close()
    return spent * 1000 / requests


def repetition(bench: Bench, servers: dict, key: str, size: int, small_key: str, requests: int, index: int) -> dict:
    """Every transport once, starting with a different one each repetition."""
    names = list(servers)
    order = names[index % len(names) :] + names[: index % len(names)]
    results = {}
    for name in order:
        s3_https = TRANSPORTS[name][0]
        results[name] = stream(bench, servers[name], s3_https, key, size, direct_first=index % 2 == 1)
        results[name]["worker_cpu_ms_per_request"] = request_cost(servers[name], small_key, requests)
    return {name: results[name] for name in names}
