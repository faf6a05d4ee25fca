"""P1: every transport in the same run. S3 plain and over HTTPS (SeaweedFS's TLS port, its certificate verified),
times the client side plain and over TLS (TLS=self-signed): four servers side by side from one SeaweedFS.

For each transport, object (single-part and multipart, large and small: `Object`) and repetition: downloads through
the service with each client (clients.py: Python and curl), back to back with a direct boto3 read over the same S3
transport (order rotating), giving MiB/s, their ratio, the workers' CPU seconds per GiB (schedstat, to the
nanosecond), the client's CPU, and how busy the machine's cores were during each side with the CPU-seconds they
spent per GiB: on two cores shared by S3, service and client, sides near 100 % busy are bound by the cores, and their
ratio by direct / service of those CPU-seconds (`core_bound_ratio`). Then worker CPU per small request on a
kept-alive connection (what the ALB's reused connections cost), for the capacity model. Repetitions rotate the
order of the transports, so none always goes first.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import psutil

from download_service import contract

from .clients import CLIENTS, python_download
from .harness import Bench, MiB, settle, worker_cpu
from .measures import direct_get

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
        python_download(server.url, f"/files/{key}", size)
        pending -= {w.pid for w in server.workers() if sum(w.cpu_times()[:2]) - before[w.pid] > 0.01}
        if not pending:
            return attempt
    return tries


@dataclass(frozen=True)
class Object:
    """One object P1 streams: how it was uploaded (harness.SINGLE_PART or MULTIPART), its size, and how many times
    one measurement downloads it (on one kept-alive connection), so that every measurement moves enough bytes for
    the schedstat clock and small objects carry their per-request cost in their CPU per GiB."""

    key: str
    shape: str
    size: int
    downloads: int

    @property
    def name(self) -> str:
        return f"{self.shape} {self.size // MiB} MiB"


def _cpu_seconds() -> float:
    """This process's CPU and that of its finished children (curl), user and system."""
    return sum(os.times()[:4])


def _busy() -> float:
    """CPU seconds the whole machine has been busy (every process: S3, service, client, anything else)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _timed(run) -> tuple[float, float, float]:
    """(seconds, the client's CPU seconds, CPU seconds the whole machine was busy) for run()."""
    started, cpu, busy = time.perf_counter(), _cpu_seconds(), _busy()
    run()
    return time.perf_counter() - started, _cpu_seconds() - cpu, _busy() - busy


def _side(timed: tuple[float, float, float], gib: float) -> dict:
    seconds, client_cpu, busy = timed
    return {
        "mib_s": gib * 1024 / seconds,
        "client_cpu_s_per_gib": client_cpu / gib,
        "machine_busy": busy / seconds / psutil.cpu_count(),
        # Everything the machine spent per GiB (S3 server, service, client): with both sides near 100 % busy, the
        # throughput ratio cannot exceed direct / service of these.
        "machine_cpu_s_per_gib": busy / gib,
    }


def stream(bench: Bench, server, s3_https: bool, obj: Object, index: int) -> dict:
    """`obj` through `server` with every client, and read directly with boto3 over the same S3 transport, in an
    order that changes with the repetition `index`."""
    direct_client, path, gib = bench.direct(s3_https), f"/files/{obj.key}", obj.size * obj.downloads / GiB
    workers: dict[str, float] = {}

    def via_service(name: str):
        def run() -> None:
            before = worker_cpu(server)
            CLIENTS[name](server.url, path, obj.size, obj.downloads)
            workers[name] = worker_cpu(server) - before

        return run

    def via_s3() -> None:
        for _ in range(obj.downloads):
            assert direct_get(bench, obj.key, direct_client) == obj.size

    sides = [(name, via_service(name)) for name in CLIENTS] + [("direct", via_s3)]
    shift = index % len(sides)
    timed = {name: _timed(run) for name, run in sides[shift:] + sides[:shift]}
    direct = _side(timed["direct"], gib)
    result = {"direct": direct}
    for name in CLIENTS:
        side = _side(timed[name], gib)
        side["worker_cpu_s_per_gib"] = workers[name] / gib
        side["ratio"] = side["mib_s"] / direct["mib_s"]
        side["core_bound_ratio"] = direct["machine_cpu_s_per_gib"] / side["machine_cpu_s_per_gib"]
        result[name] = side
    return result


def request_cost(server, small: Object, requests: int) -> dict:
    """Worker CPU milliseconds per GET of a small object on one kept-alive connection, per client. The connection
    (and a TLS handshake, ~2 ms once) is counted too: curl makes it inside its run, so the Python client's is
    counted alike."""
    costs = {}
    for name, download in CLIENTS.items():
        before = worker_cpu(server)
        download(server.url, f"/files/{small.key}", small.size, requests)
        costs[name] = (worker_cpu(server) - before) * 1000 / requests
    return costs


def repetition(bench: Bench, servers: dict, objects: list[Object], small: Object, requests: int, index: int) -> dict:
    """Every transport once, starting with a different one each repetition: every object, then small requests."""
    names = list(servers)
    order = names[index % len(names) :] + names[: index % len(names)]
    results = {}
    for name in order:
        s3_https = TRANSPORTS[name][0]
        results[name] = {obj.name: stream(bench, servers[name], s3_https, obj, index) for obj in objects}
        results[name]["worker_cpu_ms_per_request"] = request_cost(servers[name], small, requests)
    return {name: results[name] for name in names}
