"""The measurements P2-P6 (P1: transports.py, P7: tls_cost.py, P8: slow_clients.py). Each returns plain numbers;
run.py repeats, summarises and prints them."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections.abc import Callable

from devtools.gunicorn_server import GunicornServer
from download_service import contract
from download_service.settings import Settings

from .harness import BUCKET, Bench, MiB
from .stats import percentile

READ_BUFFER = MiB


# --- clients ------------------------------------------------------------------------------------------------------


def http_get(connection: http.client.HTTPConnection, path: str, headers: dict | None = None) -> tuple[int, int]:
    """GET on a kept-alive connection, body drained in READ_BUFFER reads; returns (status, bytes)."""
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    size = 0
    while chunk := response.read(READ_BUFFER):
        size += len(chunk)
    return response.status, size


def direct_get(bench: Bench, key: str, client=None) -> int:
    """A direct boto3 read of `key` (bench.client unless `client` is given), drained in READ_BUFFER reads."""
    body = (client or bench.client).get_object(Bucket=BUCKET, Key=key)["Body"]
    size = 0
    while chunk := body.read(READ_BUFFER):
        size += len(chunk)
    return size


def _connection(url: str) -> http.client.HTTPConnection:
    """A connection to the service; HTTPS (TLS=self-signed) without verification: the certificate is the
    server's own, generated at its start."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https":
        context = GunicornServer.client_context()
        return http.client.HTTPSConnection(parsed.hostname, parsed.port, timeout=60, context=context)
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)


# --- P2: worker memory while streaming ----------------------------------------------------------------------------


def rss_growth(server, key: str, size: int) -> float:
    """Peak RSS growth (MiB) of a single worker streaming `key`, after a warm-up request."""
    connection = _connection(server.url)
    http_get(connection, f"/files/{key}", {"Range": "bytes=0-1048575"})  # warm-up: client, pools, arenas
    worker = server.workers()[0]
    baseline = peak = worker.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, worker.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        status, received = http_get(connection, f"/files/{key}")
    finally:
        done.set()
        sampler.join()
        connection.close()
    assert (status, received) == (200, size)
    return (peak - baseline) / MiB


# --- P3: small-object latency -------------------------------------------------------------------------------------


def _concurrent(workers: int, per_worker: int, request: Callable[[int], None]) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        mine = []
        for _ in range(per_worker):
            started = time.perf_counter()
            request(index)
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def small_latency(bench: Bench, server_url: str, key: str, concurrency: int, requests: int) -> dict:
    """p50/p99 (ms) of a 1 KiB GET through the service vs straight from S3, same concurrency."""
    connections = [_connection(server_url) for _ in range(concurrency)]
    per_worker = max(1, requests // concurrency)

    def via_service(index: int) -> None:
        assert http_get(connections[index], f"/files/{key}")[0] == 200

    def via_s3(_: int) -> None:
        direct_get(bench, key)

    _concurrent(concurrency, 5, via_service)  # warm-up both paths
    _concurrent(concurrency, 5, via_s3)
    service = _concurrent(concurrency, per_worker, via_service)
    direct = _concurrent(concurrency, per_worker, via_s3)
    for connection in connections:
        connection.close()
    return {
        "service_p50_ms": percentile(service, 50),
        "service_p99_ms": percentile(service, 99),
        "direct_p50_ms": percentile(direct, 50),
        "direct_p99_ms": percentile(direct, 99),
        "overhead_p50_ms": percentile(service, 50) - percentile(direct, 50),
        "overhead_p99_ms": percentile(service, 99) - percentile(direct, 99),
    }


# --- P4: S3 requests per client request ---------------------------------------------------------------------------


def s3_requests_per_request(bench: Bench, server_url: str, key: str, repeat: int) -> dict:
    """S3 requests SeaweedFS counted per client request, for each kind of request."""
    etag = bench.client.head_object(Bucket=BUCKET, Key=key)["ETag"]
    kinds = {
        "GET": ("GET", {}, 200),
        "Range": ("GET", {"Range": "bytes=0-99"}, 206),
        "304": ("GET", {"If-None-Match": etag}, 304),
        "404": ("GET", {}, 404),
        "HEAD": ("HEAD", {}, 200),
    }
    result = {}
    connection = _connection(server_url)
    for name, (method, headers, expected) in kinds.items():
        path = "/files/no/such/key" if name == "404" else f"/files/{key}"
        before = bench.s3.request_count()
        for _ in range(repeat):
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == expected, (name, response.status)
        result[name] = (bench.s3.request_count() - before) / repeat
    connection.close()
    return result


# --- P5: /health while every download slot streams ----------------------------------------------------------------


def health_under_load(server, key: str, probes: int) -> dict:
    """/health latency (ms) while every download slot of every worker holds a stalled stream.

    Each probe opens its own connection, so the probes reach both workers instead of one kept-alive one."""
    settings = Settings(files_bucket=BUCKET)
    slots = settings.workers * settings.max_downloads_per_worker
    stalled = server.stall_every_download_slot(f"/files/{key}", slots)
    statuses = [status for _, status in stalled]
    try:
        time.sleep(0.5)
        latencies = []
        for _ in range(probes):
            connection = _connection(server.url)
            started = time.perf_counter()
            assert http_get(connection, contract.HEALTH_PATH)[0] == 200
            latencies.append((time.perf_counter() - started) * 1000)
            connection.close()
    finally:
        for sock, _ in stalled:
            sock.close()
    return {
        "slots": slots,
        "streams_admitted": statuses.count(200),
        "streams_refused": statuses.count(503),
        "health_p50_ms": percentile(latencies, 50),
        "health_p99_ms": percentile(latencies, 99),
    }


# --- P6: requests/s per worker ------------------------------------------------------------------------------------


def rps_per_worker(server_url: str, key: str, levels: list[int], seconds: float) -> dict:
    """Small-object GETs/s of a one-worker server at each concurrency, and the best with p99 < 100 ms."""
    rows = []
    for concurrency in levels:
        connections = [_connection(server_url) for _ in range(concurrency)]
        deadline = time.perf_counter() + seconds
        latencies: list[float] = []
        lock = threading.Lock()

        def run(index: int, deadline=deadline, connections=connections, latencies=latencies, lock=lock) -> None:
            mine = []
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                assert http_get(connections[index], f"/files/{key}")[0] == 200
                mine.append((time.perf_counter() - started) * 1000)
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        for connection in connections:
            connection.close()
        rows.append({"concurrency": concurrency, "rps": len(latencies) / elapsed, "p99_ms": percentile(latencies, 99)})
    eligible = [row["rps"] for row in rows if row["p99_ms"] < 100]
    return {"levels": rows, "best_rps_p99_under_100ms": max(eligible) if eligible else 0.0}
