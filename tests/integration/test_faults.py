"""Faults between the service and S3: stopped, slow, hung, throttled, reset mid-stream, and back again.

Real gunicorn (production config) talks to SeaweedFS through `devtools.faultproxy.FaultProxy`, which injects each
fault on loopback. The S3 timeouts are shortened through the same environment variables production uses, so every
deadline below is computed from the configuration rather than picked to pass.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devtools.gunicorn_server import GunicornServer
from download_service import contract

from .conftest import BUCKET

MiB = 1024 * 1024
FAULT_KEY = "faults/16MiB.bin"
FAULT_SIZE = 16 * MiB
SMALL_KEY = "faults/small.txt"
SMALL_BODY = b"small object, served while S3 misbehaves\n"

CONNECT_TIMEOUT_S, READ_TIMEOUT_S, MAX_ATTEMPTS = 1.0, 2.0, 2
THREADS = 8  # per worker: 6 download slots, 2 kept free for /health
FAULT_ENV = {
    "S3_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_S),
    "S3_READ_TIMEOUT": str(READ_TIMEOUT_S),
    "S3_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "THREADS": str(THREADS),
    "WORKERS": "2",
    # Every request here comes from one client (the test), and some tests mean to fill every slot of both workers.
    "MAX_STREAMS_PER_CLIENT": "64",
}
#: The longest one S3 call may take with this configuration: every attempt runs into its connect and read timeouts,
#: plus botocore's standard-mode backoff between attempts (at most 2**i s for throttling, capped at 20 s), plus
#: slack for a loaded machine.
DEADLINE_S = (
    MAX_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + sum(min(2**i, 20) for i in range(MAX_ATTEMPTS - 1)) + 3
)
LEAKS = (BUCKET, "SlowDown", "FAULTPROXY", "Please reduce", "127.0.0.1", "botocore", "Traceback", "amazonaws")


def _pattern(size: int) -> bytes:
    return b"".join(hashlib.sha256(b"fault" + i.to_bytes(8, "big")).digest() for i in range(size // 32))


@pytest.fixture(scope="module")
def fault_object(s3) -> bytes:
    data = _pattern(FAULT_SIZE)
    s3.put_object(Bucket=BUCKET, Key=FAULT_KEY, Body=data)
    s3.put_object(Bucket=BUCKET, Key=SMALL_KEY, Body=SMALL_BODY)
    return data


@pytest.fixture(scope="module")
def faulty(stack, proxy, fault_object):
    """The service with short S3 timeouts, reaching S3 only through the fault proxy."""
    server = stack.server(AWS_ENDPOINT_URL_S3=proxy.endpoint_url, **FAULT_ENV)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _get(server: GunicornServer, path: str, method: str = "GET", timeout: float = DEADLINE_S + 10):
    started = time.monotonic()
    response = requests.request(method, f"{server.url}{path}", timeout=timeout)
    return response, time.monotonic() - started


def _assert_leak_free(response: requests.Response) -> None:
    body = response.text
    if response.request.method != "HEAD":
        assert set(response.json()) == {"error", "request_id"}
    for leak in LEAKS:
        assert leak not in body


def _assert_health(server: GunicornServer, limit_s: float = 2.0) -> float:
    response, elapsed = _get(server, contract.HEALTH_PATH, timeout=limit_s)
    assert response.status_code == 200
    return elapsed


def _events(server: GunicornServer, name: str) -> list[dict]:
    records = []
    for line in server.log_lines():
        record = json.loads(line)
        if record.get("event") == name:
            records.append(record)
    return records


def _measure(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[measure] {text}")


# --- S3 stopped and back ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_s3_stopped_gives_503_with_retry_after_then_recovers_without_restart(faulty, proxy, method, capsys):
    workers_before = {w.pid for w in faulty.workers()}
    assert _get(faulty, f"/files/{SMALL_KEY}", method)[0].status_code == 200  # warm pooled connections

    proxy.refuse()
    response, elapsed = _get(faulty, f"/files/{SMALL_KEY}", method)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(contract.RETRY_AFTER_S)
    assert elapsed < DEADLINE_S
    _assert_leak_free(response)
    health = _assert_health(faulty)

    proxy.passthrough()  # S3 is back: the same processes serve again
    recovered, _ = _get(faulty, f"/files/{SMALL_KEY}", method)
    assert recovered.status_code == 200
    if method == "GET":
        assert recovered.content == SMALL_BODY
    assert {w.pid for w in faulty.workers()} == workers_before
    _measure(
        capsys,
        f"S3 stopped, {method}: 503 after {elapsed:.2f} s (deadline {DEADLINE_S:.0f} s),"
        f" /health {health * 1000:.1f} ms",
    )


# --- S3 slow or hung -------------------------------------------------------------------------------------------


def test_slow_s3_within_the_read_timeout_still_serves(faulty, proxy, fault_object):
    proxy.delay(READ_TIMEOUT_S / 4)
    response, _ = _get(faulty, f"/files/{SMALL_KEY}")
    assert response.status_code == 200
    assert response.content == SMALL_BODY


@pytest.mark.parametrize("fault", ["stall", "delay"])
def test_hung_s3_gives_504_within_the_deadline(faulty, proxy, fault, capsys):
    proxy.stall() if fault == "stall" else proxy.delay(DEADLINE_S + 5)
    response, elapsed = _get(faulty, f"/files/{SMALL_KEY}")
    assert response.status_code == 504
    assert "Retry-After" not in response.headers
    assert elapsed < DEADLINE_S
    _assert_leak_free(response)
    _measure(
        capsys, f"S3 {fault}: 504 after {elapsed:.2f} s (read timeout {READ_TIMEOUT_S} s x {MAX_ATTEMPTS} attempts)"
    )


def test_hung_s3_does_not_starve_health_or_other_requests(faulty, proxy, capsys):
    """Every download slot of both workers waits on a hung S3: /health, / and bad keys still answer at once,
    excess downloads are refused with 503 instead of queueing, and every hung download ends in 504."""
    proxy.stall()
    downloads = 3 * THREADS  # more than both workers' download slots together (2 x 6)
    with ThreadPoolExecutor(downloads) as pool:
        futures = [pool.submit(_get, faulty, f"/files/{SMALL_KEY}") for _ in range(downloads)]
        time.sleep(READ_TIMEOUT_S / 2)  # the admitted downloads are now waiting on S3
        health = [_assert_health(faulty) for _ in range(10)]
        for path, status in (("/", 200), ("/files/a//b", 400), ("/files/%FF", 400)):
            assert _get(faulty, path, timeout=2)[0].status_code == status
        statuses = [future.result()[0].status_code for future in futures]
    assert set(statuses) <= {503, 504}
    assert statuses.count(504) >= THREADS - 2  # at least one worker's slots all waited (the kernel picks workers)
    assert statuses.count(503) > 0
    proxy.passthrough()
    assert _get(faulty, f"/files/{SMALL_KEY}")[0].status_code == 200
    _measure(
        capsys,
        f"S3 hung, {downloads} downloads: {statuses.count(504)} x 504, {statuses.count(503)} x 503 (busy);"
        f" /health max {max(health) * 1000:.1f} ms meanwhile",
    )


# --- S3 throttling ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_s3_throttling_gives_503_with_retry_after(faulty, proxy, method, capsys):
    proxy.throttle()
    response, elapsed = _get(faulty, f"/files/{SMALL_KEY}", method)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(contract.RETRY_AFTER_S)
    assert elapsed < DEADLINE_S
    _assert_leak_free(response)
    _measure(capsys, f"S3 SlowDown, {method}: 503 + Retry-After after {elapsed:.2f} s (with botocore's retries)")


# --- connection reset mid-stream -------------------------------------------------------------------------------


def _raw_download(server: GunicornServer, path: str) -> tuple[int, int, bytes, Exception | None]:
    """(status, Content-Length, bytes received, the error that ended the body early or None), over one socket."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE_S + 10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        length = int(response.headers["Content-Length"])
        try:
            return response.status, length, response.read(), None
        except http.client.IncompleteRead as err:
            return response.status, length, err.partial, err
        except OSError as err:
            return response.status, length, b"", err
    finally:
        connection.close()


def test_reset_mid_stream_is_resumed_byte_exactly(faulty, proxy, fault_object, capsys):
    resumes_before = len(_events(faulty, "stream_resume"))
    proxy.reset_after(5 * MiB + 123, times=1)
    status, length, body, error = _raw_download(faulty, f"/files/{FAULT_KEY}")
    assert proxy.resets >= 1
    assert (status, length, error) == (200, FAULT_SIZE, None)
    assert hashlib.sha256(body).digest() == hashlib.sha256(fault_object).digest()
    time.sleep(0.2)
    assert len(_events(faulty, "stream_resume")) == resumes_before + 1
    _measure(capsys, f"S3 connection reset after 5 MiB: resumed, {len(body)} bytes byte-identical")


def test_repeated_resets_abort_the_transfer_short_of_content_length(faulty, proxy, fault_object, capsys):
    """When S3 keeps failing, the client must see a broken transfer, never a complete-looking short file."""
    proxy.reset_after(2 * MiB, times=None)
    status, length, body, error = _raw_download(faulty, f"/files/{FAULT_KEY}")
    assert (status, length) == (200, FAULT_SIZE)
    assert error is not None  # the connection was dropped before Content-Length bytes arrived
    assert len(body) < FAULT_SIZE
    assert body == fault_object[: len(body)]  # what did arrive is exactly the object's beginning
    time.sleep(0.2)
    assert _events(faulty, "stream_aborted")
    _assert_health(faulty)
    _measure(
        capsys,
        f"S3 resets on every connection: client got {len(body)} of {length} bytes (an exact prefix), then"
        f" {type(error).__name__}",
    )
    proxy.passthrough()
    status, length, body, error = _raw_download(faulty, f"/files/{FAULT_KEY}")
    assert (status, error, body == fault_object) == (200, None, True)


@pytest.mark.parametrize("offset", [0, 1, 4 * MiB - 1])
def test_ranged_download_reset_mid_stream_resumes_the_same_range(faulty, proxy, fault_object, offset):
    first, last = offset + 1000, offset + 8 * MiB
    proxy.reset_after(3 * MiB, times=1)
    response = requests.get(
        f"{faulty.url}/files/{FAULT_KEY}", headers={"Range": f"bytes={first}-{last}"}, timeout=DEADLINE_S + 10
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{FAULT_SIZE}"
    assert response.content == fault_object[first : last + 1]
