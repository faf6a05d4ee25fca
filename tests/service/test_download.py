"""GET and HEAD /files/<key> against moto: status codes, headers, and exactly one S3 call per request."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from download_service.http_rules import http_date

from .conftest import BUCKET

BODY = bytes(range(256)) * 40  # 10240 bytes, every byte value
SIZE = len(BODY)
KEY = "reports/Q3 résumé.pdf"
URL = "/files/reports/Q3%20r%C3%A9sum%C3%A9.pdf"


@pytest.fixture
def stored(s3):
    meta = s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY, ContentType="application/pdf")
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    return {"etag": meta["ETag"], "modified": head["LastModified"]}


def test_get_streams_the_object_as_attachment(service, stored):
    response = service.client.get(URL)
    assert response.status_code == 200
    assert response.data == BODY
    headers = response.headers
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Length"] == str(SIZE)
    assert headers["ETag"] == stored["etag"]
    assert headers["Last-Modified"] == http_date(stored["modified"])
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "private, max-age=300"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"Q3 resume.pdf\"; filename*=UTF-8''Q3%20r%C3%A9sum%C3%A9.pdf"
    )
    assert service.s3_calls() == ["GetObject"]


def test_cache_control_comes_from_settings(make_service, stored):
    service = make_service(cache_control="public, max-age=60")
    assert service.client.get(URL).headers["Cache-Control"] == "public, max-age=60"


def test_prefix_is_prepended_to_the_key(make_service, s3):
    s3.put_object(Bucket=BUCKET, Key="tenant-a/x.txt", Body=b"inside")
    s3.put_object(Bucket=BUCKET, Key="x.txt", Body=b"outside")
    service = make_service(files_prefix="tenant-a/")
    assert service.client.get("/files/x.txt").data == b"inside"


def test_generic_s3_type_is_replaced_by_a_guess(service, s3):
    s3.put_object(Bucket=BUCKET, Key="data.csv", Body=b"a,b\n", ContentType="binary/octet-stream")
    assert service.client.get("/files/data.csv").headers["Content-Type"].startswith("text/csv")


def test_streaming_uses_chunks_not_one_buffer(make_service, s3):
    s3.put_object(Bucket=BUCKET, Key="big.bin", Body=BODY)
    service = make_service(chunk_size=4096)
    response = service.client.get("/files/big.bin", buffered=False)
    chunks = list(response.response)
    response.close()
    assert [len(c) for c in chunks] == [4096, 4096, 2048]
    assert b"".join(chunks) == BODY


def test_missing_key_is_404_json(service):
    response = service.client.get("/files/no/such.txt")
    assert response.status_code == 404
    assert response.get_json()["error"] == "file not found"
    assert service.s3_calls() == ["GetObject"]


def test_head_sends_headers_without_body_and_never_gets_the_object(service, stored):
    response = service.client.head(URL)
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str(SIZE)
    assert response.headers["ETag"] == stored["etag"]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert service.s3_calls() == ["HeadObject"]


def test_head_of_missing_key_is_404(service):
    assert service.client.head("/files/nope.txt").status_code == 404
    assert service.s3_calls() == ["HeadObject"]


# --- Range ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=-5", SIZE - 5, SIZE - 1),
        ("bytes=5-", 5, SIZE - 1),
        ("bytes=100-199", 100, 199),
        (f"bytes=10-{SIZE * 10}", 10, SIZE - 1),  # end beyond the object is clamped
        (f"bytes=-{SIZE * 2}", 0, SIZE - 1),  # suffix longer than the object is the whole object
        (f"bytes={SIZE - 1}-", SIZE - 1, SIZE - 1),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_single_range_gives_206(service, stored, method, header, start, end):
    response = service.client.open(URL, method=method, headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    if method == "GET":
        assert response.data == BODY[start : end + 1]
    assert len(service.s3_calls()) == 1


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 9}", "bytes=-0", f"bytes={2**80}-"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_unsatisfiable_range_gives_416_with_size(service, stored, method, header):
    response = service.client.open(URL, method=method, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"
    assert len(service.s3_calls()) == 1


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "bytes=5-3", "bytes=abc", "pages=1-2", "bytes=", "bytes=1-2-3", "bytes=0x10-"]
)
def test_multiple_or_malformed_ranges_serve_the_whole_object(service, stored, header):
    response = service.client.get(URL, headers={"Range": header})
    assert response.status_code == 200
    assert response.data == BODY
    assert "Content-Range" not in response.headers
    assert service.s3_calls() == ["GetObject"]


# --- Preconditions --------------------------------------------------------------------------------------------------


def _later(stored) -> str:
    return http_date(stored["modified"] + timedelta(hours=1))


def _earlier(stored) -> str:
    return http_date(stored["modified"] - timedelta(hours=1))


@pytest.mark.parametrize(
    "headers",
    [
        lambda s: {"If-None-Match": s["etag"]},
        lambda s: {"If-None-Match": f'"other", {s["etag"]}'},
        lambda s: {"If-None-Match": f"W/{s['etag']}"},
        lambda s: {"If-None-Match": "*"},
        lambda s: {"If-Modified-Since": _later(s)},
        lambda s: {"If-None-Match": s["etag"], "Range": "bytes=0-10"},
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_not_modified_gives_304_with_validators(service, stored, method, headers):
    response = service.client.open(URL, method=method, headers=headers(stored))
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == stored["etag"]
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert len(service.s3_calls()) == 1


@pytest.mark.parametrize(
    "headers",
    [
        lambda s: {"If-None-Match": '"other"'},
        lambda s: {"If-Modified-Since": _earlier(s)},
        lambda s: {"If-Modified-Since": "yesterday"},
        lambda s: {"If-Match": s["etag"]},
        lambda s: {"If-Match": f'"x", {s["etag"]}'},
        lambda s: {"If-Match": "*"},
        lambda s: {"If-Unmodified-Since": _later(s)},
    ],
)
def test_preconditions_that_hold_serve_the_object(service, stored, headers):
    response = service.client.get(URL, headers=headers(stored))
    assert response.status_code == 200
    assert response.data == BODY
    assert service.s3_calls() == ["GetObject"]


@pytest.mark.parametrize(
    "headers",
    [
        lambda s: {"If-Match": '"other"'},
        lambda s: {"If-Match": f"W/{s['etag']}"},
        lambda s: {"If-Match": '"a", "b"'},
        lambda s: {"If-Unmodified-Since": _earlier(s)},
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_failed_precondition_gives_412(service, stored, method, headers):
    response = service.client.open(URL, method=method, headers=headers(stored))
    assert response.status_code == 412
    assert len(service.s3_calls()) == 1


def test_if_range_that_matches_serves_the_range(service, stored):
    response = service.client.get(URL, headers={"Range": "bytes=0-9", "If-Range": stored["etag"]})
    assert response.status_code == 206
    assert response.data == BODY[:10]
    assert service.s3_calls() == ["GetObject"]


def test_if_range_date_that_matches_serves_the_range(service, stored):
    response = service.client.get(URL, headers={"Range": "bytes=0-9", "If-Range": http_date(stored["modified"])})
    assert response.status_code == 206


def test_if_range_that_changed_serves_the_whole_new_object(service, stored):
    response = service.client.get(URL, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert response.status_code == 200
    assert response.data == BODY
    # The only case that needs a second S3 call: the ranged answer was for a different version.
    assert service.s3_calls() == ["GetObject", "GetObject"]


@pytest.mark.parametrize(
    ("preconditions", "status"), [({"If-Match": "{etag}"}, 412), ({"If-None-Match": '"{new}"'}, 304)]
)
def test_stale_if_range_refetch_judges_preconditions_on_what_it_serves(service, stored, s3, preconditions, status):
    new_body = b"version two"
    new_etag = '"' + hashlib.md5(new_body).hexdigest() + '"'  # noqa: S324 - S3's ETag of a single-part upload
    replaced = []

    def replace_after_first_get(**_) -> None:  # the object changes between the ranged answer and the refetch
        if not replaced:
            replaced.append(s3.put_object(Bucket=BUCKET, Key=KEY, Body=new_body))

    headers = {k: v.format(etag=stored["etag"], new=new_etag.strip('"')) for k, v in preconditions.items()}
    service.s3.meta.events.register("after-call.s3.GetObject", replace_after_first_get)
    try:
        response = service.client.get(URL, headers={"Range": "bytes=0-9", "If-Range": '"stale"', **headers})
    finally:
        service.s3.meta.events.unregister("after-call.s3.GetObject", replace_after_first_get)
    assert replaced[0]["ETag"] == new_etag
    assert response.status_code == status
    assert service.s3_calls() == ["GetObject", "GetObject"]


@pytest.mark.parametrize("if_range", ["W/{etag}", "garbage", '"unterminated', "Mon, 99 Foo 2026"])
def test_if_range_that_can_never_match_serves_whole_object_in_one_call(service, stored, if_range):
    headers = {"Range": "bytes=0-9", "If-Range": if_range.format(etag=stored["etag"])}
    response = service.client.get(URL, headers=headers)
    assert response.status_code == 200
    assert response.data == BODY
    assert service.s3_calls() == ["GetObject"]


# --- Keys -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path_info", "reason"),
    [
        ("/files/", "empty key"),
        ("/files/a/../b", "segment"),
        ("/files/../secret", "segment"),
        ("/files/./a", "segment"),
        ("/files/a/..", "segment"),
        ("/files/a//b", "segment"),
        ("/files//etc/passwd", "segment"),
        ("/files/dir/", "segment"),
        ("/files/a\x00b", "control"),
        ("/files/a\nb", "control"),
        ("/files/a\rb", "control"),
        ("/files/a\x7fb", "control"),
        ("/files/a\xc2\x85b", "control"),  # U+0085 NEL, UTF-8 encoded
        ("/files/a\xffb", "UTF-8"),
        ("/files/\xc3(", "UTF-8"),
        ("/files/" + "k" * 1025, "longer than 1024"),
        ("/files/" + "é".encode().decode("latin-1") * 513, "longer than 1024"),  # 1026 bytes
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_invalid_keys_are_400_without_s3_call(service, method, path_info, reason):
    # PATH_INFO is set raw (latin-1 carrying bytes, as gunicorn does): the test client would re-encode it.
    response = service.client.open("/files/x", method=method, environ_overrides={"PATH_INFO": path_info})
    assert response.status_code == 400
    if method == "GET":
        body = response.get_json()
        assert reason in body["error"]
        assert set(body) == {"error", "request_id"}
    assert service.s3_calls() == []


def test_key_of_exactly_1024_bytes_is_looked_up(service, s3):
    key = "k" * 1024
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"max")
    response = service.client.get("/files/" + key)
    assert response.status_code == 200
    assert response.data == b"max"


def test_percent_encoded_slash_is_a_path_separator(service, s3):
    s3.put_object(Bucket=BUCKET, Key="a/b.txt", Body=b"ab")
    assert service.client.get("/files/a%2Fb.txt").data == b"ab"


def test_unicode_key_round_trips(service, s3):
    s3.put_object(Bucket=BUCKET, Key="日本/データ.csv", Body=b"x")
    response = service.client.get("/files/%E6%97%A5%E6%9C%AC/%E3%83%87%E3%83%BC%E3%82%BF.csv")
    assert response.status_code == 200
    assert "filename*=UTF-8''%E3%83%87%E3%83%BC%E3%82%BF.csv" in response.headers["Content-Disposition"]


def test_quotes_in_key_cannot_break_the_header(service, s3):
    s3.put_object(Bucket=BUCKET, Key='say "hi";x=y.txt', Body=b"q")
    response = service.client.get("/files/say%20%22hi%22%3Bx%3Dy.txt")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="say _hi_;x=y.txt"; ')
    assert disposition.count('"') == 2


def test_body_of_an_error_leaks_nothing(service):
    body = service.client.get("/files/missing.bin").get_data(as_text=True)
    for leak in (BUCKET, "NoSuchKey", "Traceback"):
        assert leak not in body
    assert json.loads(body)["error"] == "file not found"


def test_large_object_is_byte_identical(service, s3):
    payload = hashlib.sha256(b"seed").digest() * 65536  # 2 MiB
    s3.put_object(Bucket=BUCKET, Key="blob.bin", Body=payload)
    assert service.client.get("/files/blob.bin").data == payload


def test_last_modified_is_an_http_date(service, stored):
    value = service.client.get(URL).headers["Last-Modified"]
    assert value.endswith(" GMT")
    assert datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC) == stored["modified"].replace(
        microsecond=0
    )


# --- found in review: each of these used to answer 500 or the wrong status -----------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_range_number_longer_than_python_converts_is_not_a_500(service, stored, method):
    huge = "9" * 5000
    assert service.client.open(URL, method=method, headers={"Range": f"bytes=0-{huge}"}).status_code == 206
    unsatisfiable = service.client.open(URL, method=method, headers={"Range": f"bytes={huge}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("header", ["If-Modified-Since", "If-Unmodified-Since", "If-Range"])
@pytest.mark.parametrize("date", ["Mon, 01 Jan 99999999999999999999 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 -0100"])
def test_out_of_range_dates_are_ignored_not_a_500(service, stored, method, header, date):
    headers = {header: date, "Range": "bytes=0-9"} if header == "If-Range" else {header: date}
    response = service.client.open(URL, method=method, headers=headers)
    # If-Range with something that is no validator: the Range is ignored, the whole object served
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("if_match", ['"stale1", "stale2"', "W/{etag}", '"stale", , "other"'])
def test_failed_if_match_wins_over_if_none_match(service, stored, method, if_match):
    headers = {"If-Match": if_match.format(etag=stored["etag"]), "If-None-Match": stored["etag"]}
    assert service.client.open(URL, method=method, headers=headers).status_code == 412


def test_failed_if_match_wins_over_if_modified_since(service, stored):
    future = http_date(datetime.now(UTC) + timedelta(days=1))
    headers = {"If-Match": '"a", "b"', "If-Modified-Since": future}
    assert service.client.get(URL, headers=headers).status_code == 412


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("byte_range", [f"bytes={SIZE + 90}-", "bytes=-0"])
def test_stale_if_range_ignores_even_an_unsatisfiable_range(service, stored, method, byte_range):
    stale = service.client.open(URL, method=method, headers={"Range": byte_range, "If-Range": '"stale"'})
    assert stale.status_code == 200
    if method == "GET":
        assert stale.data == BODY
    current = service.client.open(URL, method=method, headers={"Range": byte_range, "If-Range": stored["etag"]})
    assert current.status_code == 416
    assert current.headers["Content-Range"] == f"bytes */{SIZE}"


def test_key_limit_counts_the_prefix(make_service, s3):
    service = make_service(files_prefix="tenant-a/")  # 9 bytes
    longest = "k" * (1024 - 9)
    s3.put_object(Bucket=BUCKET, Key="tenant-a/" + longest, Body=b"fits")
    assert service.client.get("/files/" + longest).data == b"fits"
    service.calls.clear()
    too_long = service.client.get("/files/" + longest + "k")
    assert too_long.status_code == 400  # S3 would refuse the 1025-byte key with a 400, which we would call a 502
    assert service.s3_calls() == []
