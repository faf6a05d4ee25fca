"""S3 failures become precise, leak-free answers; a broken stream resumes or aborts, never ends short."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.stub import Stubber

from download_service import contract
from download_service.stream import RESUME_ATTEMPTS, StreamAbortedError

from .conftest import BUCKET

LEAKY_MESSAGE = f"Access Denied for arn:aws:s3:::{BUCKET}/secret by role arn:aws:iam::123456789012:role/x"


@pytest.mark.parametrize(
    ("code", "http_status", "status", "retry_after"),
    [
        ("SlowDown", 503, 503, True),
        ("ServiceUnavailable", 503, 503, True),
        ("RequestLimitExceeded", 400, 503, True),
        ("InternalError", 500, 502, False),
        ("AccessDenied", 403, 502, False),
        ("NoSuchBucket", 404, 502, False),
        ("InvalidObjectState", 403, 502, False),
        ("NoSuchKey", 404, 404, False),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_s3_errors_map_to_precise_statuses(make_service, method, code, http_status, status, retry_after):
    service = make_service(s3_max_attempts=1)
    operation = "get_object" if method == "GET" else "head_object"
    with Stubber(service.s3) as stub:
        stub.add_client_error(operation, code, LEAKY_MESSAGE, http_status)
        response = service.client.open("/files/a.txt", method=method)
    assert response.status_code == status
    assert ("Retry-After" in response.headers) is retry_after
    if retry_after:
        assert response.headers["Retry-After"] == str(contract.RETRY_AFTER_S)
    if method == "GET":
        body = response.get_data(as_text=True)
        assert set(response.get_json()) == {"error", "request_id"}
        for leak in (BUCKET, "arn:aws", code, "123456789012"):
            assert leak not in body


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (EndpointConnectionError(endpoint_url="http://s3"), 503),
        (ConnectTimeoutError(endpoint_url="http://s3"), 504),
        (ReadTimeoutError(endpoint_url="http://s3"), 504),
    ],
)
@pytest.mark.parametrize(("method", "operation"), [("GET", "GetObject"), ("HEAD", "HeadObject")])
def test_network_failures_map_to_503_or_504(make_service, error, status, method, operation):
    service = make_service(s3_max_attempts=1)

    def fail(**_):
        raise error

    service.s3.meta.events.register_first(f"before-send.s3.{operation}", fail)
    try:
        response = service.client.open("/files/a.txt", method=method)
    finally:
        service.s3.meta.events.unregister(f"before-send.s3.{operation}", fail)
    assert response.status_code == status
    assert ("Retry-After" in response.headers) is (status == 503)
    assert service.s3_calls() == [operation]
    if method == "GET":
        assert "s3" not in response.get_json()["error"].lower().replace("storage", "")


def test_downloads_beyond_capacity_get_503_and_health_still_answers(make_service, s3):
    s3.put_object(Bucket=BUCKET, Key="a.txt", Body=b"x" * 100)
    service = make_service(threads=8)
    capacity = 8 - 2
    open_streams = [service.client.get("/files/a.txt", buffered=False) for _ in range(capacity)]
    assert [r.status_code for r in open_streams] == [200] * capacity

    refused = service.client.get("/files/a.txt")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == str(contract.RETRY_AFTER_S)
    assert service.client.get(contract.HEALTH_PATH).status_code == 200
    # HEAD is admitted like a GET: against a hung S3 it would hold a thread just as long
    assert service.client.head("/files/a.txt").status_code == 503

    open_streams[0].close()  # a finished download frees its slot
    assert service.client.get("/files/a.txt").status_code == 200
    for response in open_streams[1:]:
        response.close()


def test_early_answers_do_not_hold_a_slot(make_service, s3):
    service = make_service(threads=4)
    for _ in range(10):
        assert service.client.get("/files/missing").status_code == 404
        assert service.client.get("/files/a/../b").status_code == 400
        assert service.client.head("/files/missing").status_code == 404
    s3.put_object(Bucket=BUCKET, Key="a.txt", Body=b"x")
    for _ in range(10):
        assert service.client.head("/files/a.txt").status_code == 200  # a HEAD gives its slot back
    assert service.client.get("/files/a.txt").status_code == 200


class _FlakyBody:
    """Wraps an S3 body and fails after `good` bytes, as a reset connection would."""

    def __init__(self, body, good: int) -> None:
        self._body, self._left = body, good

    def read(self, amount: int) -> bytes:
        if self._left <= 0:
            raise ResponseStreamingError(error="connection reset by peer")
        data = self._body.read(min(amount, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._body.close()


@pytest.fixture
def break_streams():
    """break_streams(service, good, times): the next `times` GetObject bodies fail after `good` bytes. Returns the
    headers of every GetObject sent, so a test can check how the service resumed. Hooks are removed afterwards
    (clients are shared across tests)."""
    registered = []

    def arm(service, good: int, times: int) -> list[dict]:
        seen: list[dict] = []
        remaining = [times]

        def remember(params, **_):
            seen.append(dict(params.get("headers", {})))

        def wrap(parsed, **_):
            if remaining[0] > 0 and "Body" in parsed:
                remaining[0] -= 1
                parsed["Body"] = _FlakyBody(parsed["Body"], good)

        for event, handler in (("before-call.s3.GetObject", remember), ("after-call.s3.GetObject", wrap)):
            service.s3.meta.events.register(event, handler)
            registered.append((service.s3, event, handler))
        return seen

    yield arm
    for client, event, handler in registered:
        client.meta.events.unregister(event, handler)


@pytest.fixture
def payload(s3):
    data = bytes(range(256)) * 64  # 16 KiB
    etag = s3.put_object(Bucket=BUCKET, Key="blob.bin", Body=data)["ETag"]
    return data, etag


def test_broken_stream_resumes_from_where_it_stopped(make_service, payload, break_streams):
    data, etag = payload
    service = make_service(chunk_size=1024)
    requests = break_streams(service, good=5000, times=1)
    response = service.client.get("/files/blob.bin")
    assert response.status_code == 200
    assert response.data == data
    assert len(requests) == 2
    resume = requests[1]
    assert resume["Range"] == f"bytes=5000-{len(data) - 1}"
    assert resume["If-Match"] == etag


def test_resumed_range_request_keeps_its_bounds(make_service, payload, break_streams):
    data, _ = payload
    service = make_service(chunk_size=1000)
    requests = break_streams(service, good=3000, times=1)
    response = service.client.get("/files/blob.bin", headers={"Range": "bytes=100-9099"})
    assert response.status_code == 206
    assert response.data == data[100:9100]
    assert requests[1]["Range"] == "bytes=3100-9099"


def _received_until_abort(response) -> bytes:
    """The body bytes a client got before the stream aborted (it must abort, not end)."""
    received = bytearray()

    def drain():
        for chunk in response.response:
            received.extend(chunk)

    with pytest.raises(StreamAbortedError):
        drain()
    response.close()
    return bytes(received)


def test_stream_that_keeps_failing_aborts_instead_of_ending_short(make_service, payload, break_streams):
    service = make_service(chunk_size=1024)
    break_streams(service, good=2048, times=RESUME_ATTEMPTS + 1)
    response = service.client.get("/files/blob.bin", buffered=False)
    assert response.headers["Content-Length"] == str(len(payload[0]))
    received = _received_until_abort(response)
    assert len(received) < len(payload[0])
    assert received == payload[0][: len(received)]


def test_object_replaced_mid_download_aborts(make_service, s3, payload, break_streams):
    service = make_service(chunk_size=1024)
    break_streams(service, good=4096, times=1)
    response = service.client.get("/files/blob.bin", buffered=False)
    iterator = iter(response.response)
    next(iterator)
    s3.put_object(Bucket=BUCKET, Key="blob.bin", Body=b"a different file")
    with pytest.raises(StreamAbortedError):  # the resume carries If-Match: S3 answers 412
        list(iterator)
    response.close()


def test_stream_failing_before_its_first_byte_is_a_json_error_not_a_bare_500(make_service, payload, break_streams):
    service = make_service(chunk_size=1024, threads=4)
    break_streams(service, good=0, times=RESUME_ATTEMPTS + 1)
    response = service.client.get("/files/blob.bin")
    assert response.status_code == 502  # ResponseStreamingError: S3 broke the connection, every resume too
    assert response.is_json
    assert response.json["request_id"] == response.headers["X-Request-Id"]
    # and its download slot was given back: all 2 slots of this 4-thread worker are free again
    break_streams(service, good=0, times=0)
    streams = [service.client.get("/files/blob.bin", buffered=False) for _ in range(2)]
    assert [s.status_code for s in streams] == [200, 200]
    for stream in streams:
        stream.close()


def test_resume_refuses_an_answer_that_does_not_start_where_it_stopped(make_service, payload, break_streams):
    data, _ = payload
    service = make_service(chunk_size=1024)
    break_streams(service, good=4096, times=RESUME_ATTEMPTS + 1)

    def ignore_range(parsed, **_):  # a server that answers a Range with the whole object
        if "ContentRange" in parsed:
            parsed["ContentRange"] = f"bytes 0-{len(data) - 1}/{len(data)}"

    service.s3.meta.events.register("after-call.s3.GetObject", ignore_range)
    try:
        received = _received_until_abort(service.client.get("/files/blob.bin", buffered=False))
    finally:
        service.s3.meta.events.unregister("after-call.s3.GetObject", ignore_range)
    assert received == data[: len(received)]  # never a byte from the wrong offset


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_metadata_that_cannot_be_a_header_is_dropped(make_service, s3, method):
    s3.put_object(Bucket=BUCKET, Key="odd.txt", Body=b"body")
    service = make_service()

    def poison(parsed, **_):
        parsed["ContentType"] = "text/plain\x01"
        parsed["ContentEncoding"] = "gzip\x7f"

    for event in ("after-call.s3.GetObject", "after-call.s3.HeadObject"):
        service.s3.meta.events.register(event, poison)
    try:
        response = service.client.open("/files/odd.txt", method=method)
    finally:
        for event in ("after-call.s3.GetObject", "after-call.s3.HeadObject"):
            service.s3.meta.events.unregister(event, poison)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain"  # guessed from the name instead
    assert "Content-Encoding" not in response.headers
