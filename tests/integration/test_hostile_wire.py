"""The hostile corpus (tests/service/hostile_corpus.py) over raw sockets against the production gunicorn + SeaweedFS.

Raw sockets, because HTTP client libraries normalise or refuse exactly the requests worth sending. S3 calls are
counted on SeaweedFS's own request counter: an invalid key must not reach it.
"""

from __future__ import annotations

import http.client
import socket

import pytest

from tests.service.hostile_corpus import CASES, LEAKS, OBJECTS, Case
from tests.service.test_hostile import assert_safe_answer

from .conftest import BUCKET


@pytest.fixture(scope="module")
def seeded(s3):
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def raw_request(case: Case) -> bytes:
    if case.raw is not None:
        return case.raw
    headers = dict(case.headers)
    headers.setdefault("Host", "127.0.0.1")
    headers["Connection"] = "close"
    lines = [f"{case.method} {case.target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def send(port: int, request: bytes, method: str) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = response.read()
        return response.status, dict(response.getheaders()), body


def reaches_s3(server, seaweed, case: Case) -> bool:
    """Does sending `case` make the service call S3?

    SeaweedFS bumps its counter only after answering, so the previous case's request can land between our two reads
    on a loaded machine. A service that calls S3 for this case does so every time: only a second increment counts.
    """
    for _ in range(2):
        before = seaweed.request_count()
        send(server.port, raw_request(case), case.method)
        if seaweed.request_count() == before:
            return False
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_hostile_request_over_the_wire(server, seaweed, seeded, case: Case):
    status, headers, body = send(server.port, raw_request(case), case.method)
    assert status == case.wire_status, body[:200]
    if not case.s3:
        assert not reaches_s3(server, seaweed, case)
    if case.wire is None and not case.wire_only:  # the app answered: the same checks as through the test client
        assert_safe_answer(status, headers, body, case, BUCKET)
    else:  # gunicorn answered: still nothing but a status and a short reason
        assert status < 500
        for leak in (*LEAKS, BUCKET):
            assert leak.encode() not in body
