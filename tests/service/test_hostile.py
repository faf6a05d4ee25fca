"""The hostile corpus (hostile_corpus.py) through the Flask test client over moto, counting S3 calls."""

from __future__ import annotations

import urllib.parse

import pytest
from werkzeug.http import parse_options_header

from .conftest import BUCKET
from .hostile_corpus import CASES, LEAKS, OBJECTS, SIZE_A, Case

APP_CASES = [case for case in CASES if not case.wire_only]


def test_the_corpus_is_big_enough_and_unique():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", APP_CASES, ids=lambda case: case.id)
def test_hostile_request_gets_its_precise_answer(make_service, s3, case: Case):
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    service = make_service()
    service.calls.clear()

    response = service.client.open("/", method=case.method, headers=list(case.headers), environ_overrides=wsgi(case))

    assert response.status_code == case.status
    if not case.s3:
        assert service.s3_calls() == []
    assert_safe_answer(response.status_code, dict(response.headers), response.get_data(), case, BUCKET)


def wsgi(case: Case) -> dict[str, str]:
    """PATH_INFO and QUERY_STRING as gunicorn builds them: percent-decoded bytes carried as latin-1. (Werkzeug's
    test client would decode the path as UTF-8 with replacement characters, hiding invalid UTF-8 from the app.)"""
    path, _, query = case.target.partition("?")
    return {"PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query}


def key_name(case: Case) -> str:
    """The file name a download of this case's key must carry."""
    path = case.target.partition("?")[0]
    return urllib.parse.unquote_to_bytes(path).decode("utf-8").rsplit("/", 1)[-1]


def assert_safe_answer(status: int, headers: dict[str, str], body: bytes, case: Case, bucket: str) -> None:
    """What every answer to a hostile request must look like, whatever its status. Shared with the wire run."""
    assert status < 500
    text = body.decode("utf-8", "replace")
    for leak in (*LEAKS, bucket):
        assert leak not in text
        assert all(leak not in value for name, value in headers.items() if name.lower() != "x-request-id")
    for name, value in headers.items():
        assert "\r" not in value
        assert "\n" not in value, name
    if status >= 400 and case.method != "HEAD" and body:
        assert headers["Content-Type"] == "application/json"
        assert text.startswith('{"error":')
        assert '"request_id":' in text
    if status == 405:
        assert set(headers["Allow"].split(", ")) == {"GET", "HEAD"}
    if status == 416:
        assert headers["Content-Range"] == f"bytes */{SIZE_A}"
    if status == 206:
        assert headers["Content-Range"] == f"bytes 0-{SIZE_A - 1}/{SIZE_A}"
    if status in (200, 206) and case.target.startswith("/files/"):
        # The S3 response overrides in a query string must not reach S3: still an attachment, still S3's type.
        disposition, params = parse_options_header(headers["Content-Disposition"])
        assert (disposition, params) == ("attachment", {"filename": key_name(case)})  # nothing smuggled in
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "html" not in headers["Content-Type"]
