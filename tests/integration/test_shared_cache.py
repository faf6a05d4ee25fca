"""The caching policy (cache_policy.py) against a real shared cache: Debian's nginx with proxy_cache
(devtools/shared_cache.py), configured from the same policy as the CDN, in front of the production gunicorn config
on SeaweedFS, with CACHE_MODE=shared and CLIENT_IP_HEADER=CloudFront-Viewer-Address as behind CloudFront.

Origin requests are counted from the service's access lines: one S3 request each (tests/service prove that), so a
request the cache answers alone is one without an S3 request. nginx names its answer in X-Cache-Status.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
import requests

from devtools.faultproxy import FaultProxy
from devtools.gunicorn_server import GunicornServer
from devtools.shared_cache import SharedCache
from download_service import cache_policy, contract
from download_service.contract import Event

from .conftest import BIG_KEY, BUCKET

MiB = 1024 * 1024
VIEWER = contract.VIEWER_ADDRESS_HEADER
#: The short-lived edge's DOWNLOAD_TTL_S and NOT_FOUND_TTL_S. nginx keeps expiry times in whole seconds, so an entry
#: is surely expired TTL_S + 1 s after it was stored.
TTL_S = 2
HOT_CLIENTS = 200
#: At most this many origin requests for HOT_CLIENTS simultaneous downloads of one object.
HANDFUL = 3


@dataclass
class Edge:
    server: GunicornServer
    cache: SharedCache

    def get(self, path: str, method: str = "GET", **headers: str) -> requests.Response:
        return requests.request(method, self.cache.url + path, headers=headers, timeout=60)

    def origin_requests(self, path: str, expected: int = 0, timeout_s: float = 10) -> list[tuple[str, int]]:
        """(method, status) of each request for `path` the service answered, once there are `expected` (an access
        line is written when the answer is complete, a moment after the cache has it)."""
        deadline = time.monotonic() + timeout_s
        while True:
            lines = [json.loads(line) for line in self.server.log_lines()]
            found = [(r["method"], r["status"]) for r in lines if r.get("event") == Event.ACCESS and r["path"] == path]
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@contextlib.contextmanager
def _edge(stack, **env: str):
    server = stack.server(CACHE_MODE=cache_policy.SHARED, CLIENT_IP_HEADER=VIEWER, **env).start()
    try:
        with SharedCache(server.port) as cache:
            yield Edge(server, cache)
    finally:
        server.kill()


@pytest.fixture(scope="module")
def edge(stack, proxy):
    """The default TTLs; S3 through the fault proxy, with one attempt per request and a read timeout above the hot
    object's S3 delay (a 504 is not cached, so the waiting requests would each try the origin in turn)."""
    with _edge(stack, AWS_ENDPOINT_URL_S3=proxy.endpoint_url, S3_READ_TIMEOUT="3", S3_MAX_ATTEMPTS="1") as running:
        yield running


@pytest.fixture(scope="module")
def short_edge(stack):
    with _edge(stack, DOWNLOAD_TTL_S=str(TTL_S), NOT_FOUND_TTL_S=str(TTL_S)) as running:
        yield running


@pytest.fixture(scope="module")
def crowded_edge(stack):
    """Two download slots, one a client: refusals are easy to provoke."""
    with _edge(stack, WORKERS="1", THREADS="4", MAX_STREAMS_PER_CLIENT="1") as running:
        yield running


def _put(s3, key: str, size: int) -> bytes:
    data = os.urandom(size)
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    return data


def _wait_until_expired(stored_at: float) -> None:
    time.sleep(max(0.0, stored_at + TTL_S + 1.1 - time.monotonic()))


def test_the_second_download_is_served_by_the_cache_without_an_s3_request(edge, s3):
    path, data = "/files/cache/hit.bin", _put(s3, "cache/hit.bin", 3 * MiB + 7)
    first = edge.get(path, **{VIEWER: "203.0.113.1:1"})
    assert (first.status_code, first.headers["X-Cache-Status"], first.content == data) == (200, "MISS", True)
    assert first.headers["Cache-Control"] == cache_policy.download_cache_control(cache_policy.DOWNLOAD_TTL_S)
    assert edge.origin_requests(path, 1) == [("GET", 200)]
    # Another viewer, a query string: the key is the path alone.
    second = edge.get(path + "?v=2", **{VIEWER: "203.0.113.2:2"})
    assert (second.status_code, second.headers["X-Cache-Status"], second.content == data) == (200, "HIT", True)
    assert second.headers["ETag"] == first.headers["ETag"]
    # A viewer's revalidation is answered by the cache too.
    revalidated = edge.get(path, **{"If-None-Match": first.headers["ETag"]})
    assert (revalidated.status_code, revalidated.headers["X-Cache-Status"]) == (304, "HIT")
    assert edge.origin_requests(path) == [("GET", 200)]
    (line,) = [json.loads(r) for r in edge.server.log_lines() if f'"path": "{path}"' in r]
    assert "query" not in line  # the origin never sees the query string (a None field is not logged)


def test_a_range_on_a_cached_object_is_byte_exact(edge, s3):
    size = 3 * MiB + 11
    path, data = "/files/cache/range.bin", _put(s3, "cache/range.bin", size)
    assert edge.get(path).status_code == 200
    spans = [(0, 0), (size - 1, size - 1), (MiB - 5, MiB + 4), (100, 2 * MiB), (size - 17, size - 1), (0, size - 1)]
    for first, last in spans:
        answer = edge.get(path, Range=f"bytes={first}-{last}")
        assert (answer.status_code, answer.headers["X-Cache-Status"]) == (206, "HIT")
        assert answer.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert answer.content == data[first : last + 1]
    suffix = edge.get(path, Range="bytes=-17")
    assert (suffix.status_code, suffix.content) == (206, data[-17:])
    assert edge.origin_requests(path) == [("GET", 200)]
    # A Range on an object not yet stored: the cache fetches the whole object once and answers the range from it.
    other, other_data = "/files/cache/range-first.bin", _put(s3, "cache/range-first.bin", MiB + 3)
    answer = edge.get(other, Range="bytes=1000-1999")
    assert (answer.status_code, answer.content) == (206, other_data[1000:2000])
    assert edge.get(other, Range="bytes=-3").content == other_data[-3:]
    assert edge.origin_requests(other, 1) == [("GET", 200)]


def test_head_is_answered_from_the_cache_like_get(edge, s3):
    path, data = "/files/cache/head.bin", _put(s3, "cache/head.bin", 64 * 1024)
    get = edge.get(path)
    head = edge.get(path, method="HEAD")
    assert (head.status_code, head.headers["X-Cache-Status"], head.content) == (200, "HIT", b"")
    same = ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Cache-Control", "Content-Disposition")
    assert {name: head.headers[name] for name in same} == {name: get.headers[name] for name in same}
    assert head.headers["Content-Length"] == str(len(data))
    assert edge.origin_requests(path, 1) == [("GET", 200)]


def test_root_and_health_are_never_cached(edge):
    for path in ("/", contract.HEALTH_PATH):
        before = len(edge.origin_requests(path))
        answers = [edge.get(path) for _ in range(2)]
        assert [(a.status_code, a.headers["Cache-Control"]) for a in answers] == [(200, "no-store")] * 2
        assert "HIT" not in [a.headers["X-Cache-Status"] for a in answers]
        assert len(edge.origin_requests(path, before + 2)) == before + 2


FAULTS = {
    "s3-throttling": (FaultProxy.throttle, 503),
    "s3-unreachable": (FaultProxy.refuse, 503),
    "s3-timeout": (FaultProxy.stall, 504),
    # The answer's head arrives, then every body (and each resume) breaks: ResponseStreamingError, a 502.
    "s3-broken": (lambda proxy: FaultProxy.reset_after(proxy, 1024, times=None), 502),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_server_errors_are_not_cached(edge, proxy, s3, fault):
    key = f"cache/errors/{fault}.bin"
    path, data = f"/files/{key}", _put(s3, key, 256 * 1024)
    inject, status = FAULTS[fault]
    inject(proxy)
    answers = [edge.get(path) for _ in range(2)]
    assert [(a.status_code, a.headers["Cache-Control"]) for a in answers] == [(status, "no-store")] * 2
    assert "HIT" not in [a.headers["X-Cache-Status"] for a in answers]
    assert edge.origin_requests(path, 2) == [("GET", status)] * 2  # each one reached the service
    proxy.passthrough()
    healed = edge.get(path)
    assert (healed.status_code, healed.headers["X-Cache-Status"], healed.content == data) == (200, "MISS", True)


def test_a_transfer_the_origin_breaks_is_not_cached(edge, proxy, s3):
    path, data = "/files/cache/broken.bin", _put(s3, "cache/broken.bin", 8 * MiB)
    proxy.reset_after(2 * MiB, times=None)  # S3 breaks after 2 MiB, and every resume too: the service aborts
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        edge.get(path)
    proxy.passthrough()
    whole = edge.get(path)
    assert (whole.status_code, whole.headers["X-Cache-Status"], whole.content == data) == (200, "MISS", True)
    assert edge.origin_requests(path, 2) == [("GET", 200)] * 2


def test_refusals_are_not_cached(crowded_edge, s3, big_object):
    path = "/files/cache/refused.bin"
    data = _put(s3, "cache/refused.bin", 1024)
    # Every viewer behind the local cache is 127.0.0.1: this direct stream (from the trusted "ALB") is its share.
    held = [crowded_edge.server.stalled_download(f"/files/{BIG_KEY}", headers={VIEWER: "127.0.0.1:1"})]
    try:
        assert held[0][1] == 200
        over_share = [crowded_edge.get(path) for _ in range(2)]
        assert [(a.status_code, a.headers["Cache-Control"]) for a in over_share] == [(429, "no-store")] * 2
        held.append(crowded_edge.server.stalled_download(f"/files/{BIG_KEY}", headers={VIEWER: "198.18.0.1:1"}))
        assert held[1][1] == 200  # the worker's last slot
        busy = [crowded_edge.get(path) for _ in range(2)]
        assert [(a.status_code, a.headers["Cache-Control"]) for a in busy] == [(503, "no-store")] * 2
        assert crowded_edge.origin_requests(path, 4) == [("GET", 429)] * 2 + [("GET", 503)] * 2
    finally:
        for sock, _ in held:
            sock.close()
    time.sleep(0.5)  # the server notices the closed streams and frees their slots
    served = crowded_edge.get(path)
    assert (served.status_code, served.headers["X-Cache-Status"], served.content == data) == (200, "MISS", True)


def test_a_missing_key_is_cached_briefly(edge, short_edge, s3):
    path = "/files/cache/missing-then-uploaded.bin"
    answers = [edge.get(path) for _ in range(2)]
    assert [(a.status_code, a.headers["X-Cache-Status"]) for a in answers] == [(404, "MISS"), (404, "HIT")]
    assert answers[0].headers["Cache-Control"] == cache_policy.not_found_cache_control(cache_policy.NOT_FOUND_TTL_S)
    assert edge.origin_requests(path, 1) == [("GET", 404)]
    # Uploaded after a miss: served once the 404's TTL is over.
    missed = short_edge.get(path)
    stored_at = time.monotonic()
    assert (missed.status_code, missed.headers["Cache-Control"]) == (404, f"public, max-age={TTL_S}")
    data = _put(s3, "cache/missing-then-uploaded.bin", 1000)
    _wait_until_expired(stored_at)
    found = short_edge.get(path)
    assert (found.status_code, found.content == data) == (200, True)
    assert short_edge.origin_requests(path, 2) == [("GET", 404), ("GET", 200)]


def test_a_changed_object_is_revalidated_after_its_ttl_and_then_served_new(short_edge, s3):
    key = "cache/changing.bin"
    path, old = f"/files/{key}", _put(s3, key, 256 * 1024)
    first = short_edge.get(path)
    stored_at = time.monotonic()
    assert (first.status_code, first.headers["Cache-Control"]) == (200, f"public, max-age={TTL_S}")
    _wait_until_expired(stored_at)
    # Unchanged: the cache asks with the ETag it stored, the origin answers 304 (one S3 request, no body).
    same = short_edge.get(path)
    revalidated_at = time.monotonic()
    assert (same.status_code, same.headers["X-Cache-Status"], same.content == old) == (200, "REVALIDATED", True)
    assert short_edge.origin_requests(path, 2) == [("GET", 200), ("GET", 304)]
    new = _put(s3, key, 300 * 1024)
    _wait_until_expired(revalidated_at)
    changed = short_edge.get(path)
    assert (changed.status_code, changed.headers["X-Cache-Status"], changed.content == new) == (200, "EXPIRED", True)
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert short_edge.origin_requests(path, 3) == [("GET", 200), ("GET", 304), ("GET", 200)]


def test_simultaneous_downloads_of_one_hot_object_make_at_most_a_handful_of_origin_requests(edge, proxy, s3, capsys):
    path, data = "/files/cache/hot.bin", _put(s3, "cache/hot.bin", 2 * MiB)
    digest = hashlib.sha256(data).hexdigest()
    # S3 answers after a second: every request arrives while the first one is still a miss. Each one that reached
    # the service would count against the one client they all are here (127.0.0.1, 8 streams) and be refused.
    proxy.delay(1.0)
    start = threading.Barrier(HOT_CLIENTS)
    outcomes: list = [None] * HOT_CLIENTS

    def download(index: int) -> None:
        start.wait(30)
        answer = edge.get(path)
        outcomes[index] = (
            answer.status_code,
            hashlib.sha256(answer.content).hexdigest(),
            answer.headers["X-Cache-Status"],
        )

    threads = [threading.Thread(target=download, args=(i,), daemon=True) for i in range(HOT_CLIENTS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    took = time.monotonic() - began
    assert [(status, got) for status, got, _ in outcomes] == [(200, digest)] * HOT_CLIENTS
    origin = edge.origin_requests(path, 1)
    assert 1 <= len(origin) <= HANDFUL
    with capsys.disabled():
        print(
            f"\n[measure] {HOT_CLIENTS} simultaneous downloads of one 2 MiB object, S3 answering after 1 s:"
            f" {len(origin)} origin request(s), cache statuses {dict(Counter(s for _, _, s in outcomes))},"
            f" all byte-exact in {took:.1f} s"
        )
