"""Download slots: per-worker capacity, the per-client cap over a task's workers, and who the client is."""

from __future__ import annotations

import json
import logging

import pytest
from werkzeug.test import EnvironBuilder

from download_service import contract, slots
from download_service.contract import Event
from download_service.logs import REFUSAL_ENVIRON
from download_service.peers import CLIENT_IP_ENVIRON, TrustedProxies, client_ip
from download_service.slots import Admission, SlotRefusedError, SlotTable


@pytest.fixture
def task_table():
    """A table shared by two 'workers' (two Admissions on rows 0 and 1), as gunicorn.conf.py sets them up."""
    table = SlotTable(rows=2)
    rows = [table.claim_row(), table.claim_row()]
    yield table, rows
    slots.attach(table, None)


def _admission_on(table: SlotTable, row: int, capacity: int = 28, per_client: int = 8) -> Admission:
    slots.attach(table, row)
    return Admission(capacity, per_client)


def test_a_worker_admits_up_to_its_capacity_then_refuses_busy():
    admission = Admission(capacity=3, per_client=8)
    held = [admission.acquire(f"198.18.0.{i}") for i in range(3)]
    with pytest.raises(SlotRefusedError) as refused:
        admission.acquire("198.18.0.9")
    assert refused.value.event == Event.BUSY
    held[0].release()
    admission.acquire("198.18.0.9")  # a released slot is free again


def test_release_is_idempotent():
    admission = Admission(capacity=1, per_client=1)
    slot = admission.acquire("a")
    slot.release()
    slot.release()  # a second release must not free a slot someone else holds
    admission.acquire("b")
    with pytest.raises(SlotRefusedError):
        admission.acquire("c")
    assert admission.in_use == 1


def test_the_client_cap_counts_every_worker_of_the_task(task_table):
    table, (row_a, row_b) = task_table
    worker_a, worker_b = _admission_on(table, row_a, per_client=3), _admission_on(table, row_b, per_client=3)
    held = [worker_a.acquire("203.0.113.7"), worker_b.acquire("203.0.113.7"), worker_a.acquire("203.0.113.7")]
    for worker in (worker_a, worker_b):  # whichever worker the kernel hands the next connection to
        with pytest.raises(SlotRefusedError) as refused:
            worker.acquire("203.0.113.7")
        assert refused.value.event == Event.CLIENT_LIMIT
    worker_b.acquire("203.0.113.8")  # another client is not affected
    held[1].release()
    worker_a.acquire("203.0.113.7")  # a slot released in worker B counts in worker A at once
    assert table.in_use() == 4


def test_a_dead_workers_row_stops_counting(task_table):
    table, (row_a, row_b) = task_table
    worker_a, worker_b = _admission_on(table, row_a, per_client=2), _admission_on(table, row_b, per_client=2)
    worker_a.acquire("203.0.113.7")
    worker_a.acquire("203.0.113.7")
    with pytest.raises(SlotRefusedError):
        worker_b.acquire("203.0.113.7")
    table.free_row(row_a)  # the master, after worker A died without releasing anything
    worker_b.acquire("203.0.113.7")
    assert table.in_use() == 1
    assert table.claim_row() == row_a  # and its row goes to the next worker


def test_without_rows_left_a_worker_counts_alone():
    table = SlotTable(rows=1)
    assert table.claim_row() == 0
    assert table.claim_row() is None
    slots.attach(table, None)
    admission = Admission(capacity=4, per_client=2)
    admission.acquire("x")
    assert table.in_use() == 0  # a private table, not row 0 of someone else


def test_buckets_are_keyed_per_table():
    # The same address lands in unrelated buckets of two tables: nobody can aim at another client's bucket.
    a, b = SlotTable(rows=1), SlotTable(rows=1)
    addresses = [f"198.18.0.{i}" for i in range(64)]
    assert [a.bucket(x) for x in addresses] != [b.bucket(x) for x in addresses]
    assert all(0 <= a.bucket(x) < a.buckets for x in addresses)


# --- who the client is ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "peer", "forwarded", "expected"),
    [
        ("*", "10.0.1.5", "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # behind the ALB: the entry it appended
        ("127.0.0.1", "127.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.0/16,127.0.0.1", "10.0.3.4", "203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "192.0.2.50", "203.0.113.9", "192.0.2.50"),  # a direct client cannot choose its identity
        ("127.0.0.1", "127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "", "203.0.113.9", ""),  # no address (a Unix socket): nothing is trusted
    ],
)
def test_client_ip(spec, peer, forwarded, expected):
    environ = {"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_ip(environ, TrustedProxies(spec)) == expected


VIEWER = contract.VIEWER_ADDRESS_HEADER
#: Behind CloudFront and a VPC origin, the ALB appends CloudFront's private address: the same for many viewers.
EDGE_FORWARDED = "198.51.100.1, 10.0.9.9"


@pytest.mark.parametrize(
    ("spec", "peer", "viewer", "expected"),
    [
        ("*", "10.0.1.5", "203.0.113.9:46532", "203.0.113.9"),  # AWS's documented form: address, colon, port
        ("*", "10.0.1.5", "2001:db8::1:46532", "2001:db8::1"),  # IPv6 the same way, unbracketed
        ("*", "10.0.1.5", "2001:DB8:0:0::1:443", "2001:db8::1"),  # one viewer, one identity, however spelt
        ("*", "10.0.1.5", "[2001:db8::1]:443", "2001:db8::1"),
        ("*", "10.0.1.5", "198.51.100.66:1, 203.0.113.9:2", "203.0.113.9"),  # repeated: the last, as in XFF
        ("*", "10.0.1.5", None, "10.0.9.9"),  # no header (the release hook inside the VPC): the ALB's entry
        ("*", "10.0.1.5", "203.0.113.9", "10.0.9.9"),  # no port: not the documented form, not believed
        ("*", "10.0.1.5", "203.0.113.9:99999", "10.0.9.9"),
        ("*", "10.0.1.5", "203.0.113.9:4x", "10.0.9.9"),
        ("*", "10.0.1.5", "viewer:443", "10.0.9.9"),
        ("*", "10.0.1.5", ":443", "10.0.9.9"),
        ("127.0.0.1", "192.0.2.50", "203.0.113.9:1", "192.0.2.50"),  # a direct client cannot choose its identity
        ("127.0.0.1", "", "203.0.113.9:1", ""),
    ],
)
def test_client_ip_behind_cloudfront(spec, peer, viewer, expected):
    environ = {"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_FOR": EDGE_FORWARDED}
    if viewer is not None:
        environ["HTTP_CLOUDFRONT_VIEWER_ADDRESS"] = viewer
    assert client_ip(environ, TrustedProxies(spec), VIEWER) == expected


def test_the_viewer_address_counts_only_when_chosen():
    environ = {
        "REMOTE_ADDR": "10.0.1.5",
        "HTTP_X_FORWARDED_FOR": "203.0.113.9",
        "HTTP_CLOUDFRONT_VIEWER_ADDRESS": "198.51.100.7:1",
    }
    assert client_ip(environ, TrustedProxies("*")) == "203.0.113.9"  # X-Forwarded-For mode: a header like any other


@pytest.mark.parametrize("spec", ["10.0.0.1/8", "localhost", "127.0.0.1,,nope"])
def test_an_invalid_proxy_list_is_refused(spec):
    with pytest.raises(ValueError, match=r"does not appear to be an IPv4 or IPv6|has host bits set"):
        TrustedProxies(spec)


# --- through the app ------------------------------------------------------------------------------------------------


def _stream(service, client: str):
    return service.client.get("/files/a.txt", headers={"X-Forwarded-For": client}, buffered=False)


def test_a_client_over_its_share_gets_429_with_retry_after(make_service, s3, caplog):
    """RFC 6585 §4: 429 Too Many Requests, "the user has sent too many requests in a given amount of time", with
    Retry-After. The client's own doing, not the server failing: never a 5xx (no error metric or alarm counts it)."""
    s3.put_object(Bucket="test-files", Key="a.txt", Body=b"a" * 10)
    service = make_service(max_streams_per_client=2)
    held = [_stream(service, "198.51.100.7") for _ in range(2)]
    assert [r.status_code for r in held] == [200, 200]
    with caplog.at_level(logging.WARNING, logger="download_service"):
        refused = _stream(service, "198.51.100.7")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(contract.RETRY_AFTER_S)
    assert refused.headers["Content-Type"] == "application/json"
    assert json.loads(refused.get_data())["error"] == "too many concurrent downloads from this client, retry later"
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == Event.CLIENT_LIMIT]
    assert record.client_ip == "198.51.100.7"
    assert _stream(service, "198.51.100.8").status_code == 200  # another client still gets in
    head = service.client.head("/files/a.txt", headers={"X-Forwarded-For": "198.51.100.7"})
    assert head.status_code == 429  # a HEAD takes a slot too
    held[0].close()  # a finished download gives its share back
    assert _stream(service, "198.51.100.7").status_code == 200


@pytest.mark.parametrize("header", contract.CLIENT_IP_HEADERS)
def test_an_untrusted_peer_cannot_escape_the_cap_with_either_header(make_service, s3, header):
    s3.put_object(Bucket="test-files", Key="a.txt", Body=b"a")
    # The test client is 127.0.0.1: not a trusted proxy here.
    service = make_service(max_streams_per_client=2, forwarded_allow_ips="10.0.0.1", client_ip_header=header)
    claims = [{"X-Forwarded-For": f"198.51.100.{i}", VIEWER: f"198.51.100.{i}:{i}"} for i in range(3)]
    statuses = [service.client.get("/files/a.txt", headers=c, buffered=False).status_code for c in claims]
    assert statuses == [200, 200, 429]


def test_behind_cloudfront_each_viewer_has_its_own_share(make_service, s3, caplog):
    s3.put_object(Bucket="test-files", Key="a.txt", Body=b"a")
    service = make_service(max_streams_per_client=2, client_ip_header=VIEWER)  # 127.0.0.1, the "ALB", is trusted

    def stream(viewer: str):
        # Every request arrives with CloudFront's address last in X-Forwarded-For, and a port of its own.
        headers = {"X-Forwarded-For": EDGE_FORWARDED, VIEWER: viewer}
        return service.client.get("/files/a.txt", headers=headers, buffered=False)

    held = [stream("203.0.113.9:40001"), stream("203.0.113.9:40002")]
    with caplog.at_level(logging.WARNING, logger="download_service"):
        assert stream("203.0.113.9:40003").status_code == 429  # the same viewer on a new connection
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == Event.CLIENT_LIMIT]
    assert record.client_ip == "203.0.113.9"
    assert stream("2001:db8::7:40004").status_code == 200  # another viewer behind the same CloudFront address
    held[0].close()
    assert stream("203.0.113.9:40005").status_code == 200


@pytest.fixture
def wsgi_get():
    """wsgi_get(service, client) -> (status line, environ) of a GET through the WSGI app itself, from the trusted
    proxy 127.0.0.1 on behalf of `client`: the environ gunicorn's access logger reads (the test client hands the
    app a copy). Bodies stay open (slots held) until the test ends."""
    bodies = []

    def get(service, client: str) -> tuple[str, dict]:
        environ = EnvironBuilder(
            path="/files/a.txt", headers={"X-Forwarded-For": client}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
        ).get_environ()
        started = []
        bodies.append(service.app(environ, lambda status, headers, exc_info=None: started.append(status)))
        return started[0], environ

    yield get
    for body in bodies:
        body.close()


@pytest.mark.parametrize(("event", "status"), [(Event.CLIENT_LIMIT, "429"), (Event.BUSY, "503")])
def test_a_refusal_is_marked_for_the_access_log_and_nothing_else_is(make_service, s3, wsgi_get, event, status):
    """The access line of a refused request carries `refused` (logs.REFUSAL_ENVIRON): how the error metrics tell a
    refusal the service chose (a busy 503) from a server error with the same status (S3 unavailable, 503)."""
    s3.put_object(Bucket="test-files", Key="a.txt", Body=b"a" * 10)
    service = make_service(max_streams_per_client=1, threads=4)  # 2 slots a worker
    admitted = [wsgi_get(service, "198.51.100.7")]
    if event == Event.BUSY:
        admitted.append(wsgi_get(service, "198.51.100.8"))
    assert [line for line, _ in admitted] == ["200 OK"] * len(admitted)
    line, environ = wsgi_get(service, "198.51.100.7" if event == Event.CLIENT_LIMIT else "198.51.100.9")
    assert line.split()[0] == status
    assert environ[REFUSAL_ENVIRON] == event
    assert not [e for _, e in admitted if REFUSAL_ENVIRON in e]


@pytest.mark.parametrize("path", ["/files/a.txt", "/", contract.HEALTH_PATH, "/nope"])
def test_every_request_tells_the_access_log_its_client(make_service, s3, path):
    """The address the slots count is the one the access line shows (logs.py reads CLIENT_IP_ENVIRON), for every
    route, decided once per request by the app."""
    s3.put_object(Bucket="test-files", Key="a.txt", Body=b"a")
    service = make_service(client_ip_header=VIEWER)
    environ = EnvironBuilder(
        path=path,
        headers={"X-Forwarded-For": EDGE_FORWARDED, VIEWER: "203.0.113.9:40001"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()
    body = service.app(environ, lambda status, headers, exc_info=None: None)
    body.close()
    assert environ[CLIENT_IP_ENVIRON] == "203.0.113.9"
