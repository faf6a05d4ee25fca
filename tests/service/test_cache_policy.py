"""What the service tells caches (cache_policy.py): in CACHE_MODE=shared a download may be stored by any cache for
DOWNLOAD_TTL_S and a missing key's 404 for NOT_FOUND_TTL_S; everything else, in both modes, says no-store. GET and
HEAD say the same. tests/integration/test_shared_cache.py proves a real shared cache obeys it."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from download_service import cache_policy, contract
from download_service.settings import Settings

from .conftest import BUCKET

KEY, BODY = "doc.bin", bytes(range(256)) * 64
SHARED = Settings.from_env(
    {"FILES_BUCKET": BUCKET, "CACHE_MODE": "shared", "DOWNLOAD_TTL_S": "600", "NOT_FOUND_TTL_S": "7"}
)


def _shared(make_service, **overrides):
    """The service with SHARED's cache settings (and `overrides`)."""
    fields = ("cache_mode", "cache_control", "not_found_cache_control")
    return make_service(**{name: getattr(SHARED, name) for name in fields}, **overrides)


@pytest.fixture
def shared(make_service, s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    return _shared(make_service)


def test_the_policy_s_headers():
    assert cache_policy.download_cache_control(600) == "public, max-age=600"
    assert cache_policy.not_found_cache_control(7) == "public, max-age=7"
    assert cache_policy.not_found_cache_control(0) == "no-store"
    assert cache_policy.ORIGIN_REQUEST_HEADERS == (contract.VIEWER_ADDRESS_HEADER,)
    assert cache_policy.CACHE_KEY_QUERY_STRINGS == cache_policy.CACHE_KEY_HEADERS == cache_policy.CACHE_KEY_COOKIES
    assert cache_policy.CACHE_KEY_HEADERS == ()
    # Every status CloudFront would cache on its own is given a 0 s minimum: the origin's headers alone decide.
    assert set(cache_policy.ERROR_CACHING_MIN_TTL_S.values()) == {0}
    assert {404, 500, 502, 503, 504} <= set(cache_policy.ERROR_CACHING_MIN_TTL_S)
    assert cache_policy.MIN_TTL_S == cache_policy.DEFAULT_TTL_S == 0
    assert cache_policy.DOWNLOAD_TTL_S <= cache_policy.MAX_TTL_S


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 200), ({"Range": "bytes=10-19"}, 206), ({"Range": "bytes=-1"}, 206), ({"If-None-Match": "*"}, 304)],
)
def test_a_download_may_be_stored_by_any_cache_for_its_ttl(shared, method, headers, status):
    response = shared.client.open(f"/files/{KEY}", method=method, headers=headers)
    assert response.status_code == status
    assert response.headers["Cache-Control"] == "public, max-age=600"
    assert "ETag" in response.headers  # what a cache revalidates with after the TTL


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_missing_key_may_be_stored_briefly(shared, method):
    response = shared.client.open("/files/missing.bin", method=method)
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "public, max-age=7"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/", {}, 200),
        (contract.HEALTH_PATH, {}, 200),
        ("/nope", {}, 404),  # not a missing key: an unknown route
        ("/files/a/../b", {}, 400),
        (f"/files/{KEY}", {"If-Match": '"other"'}, 412),
        (f"/files/{KEY}", {"Range": "bytes=999999-"}, 416),
    ],
)
def test_everything_else_says_no_store(shared, path, headers, status):
    response = shared.client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-store"


def test_a_refusal_says_no_store(make_service, s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    over_share = _shared(make_service, max_streams_per_client=1)
    held = over_share.client.get(f"/files/{KEY}", buffered=False)
    refused = over_share.client.get(f"/files/{KEY}")
    assert (refused.status_code, refused.headers["Cache-Control"]) == (429, "no-store")
    held.close()


@pytest.mark.parametrize(("code", "http_status", "status"), [("SlowDown", 503, 503), ("InternalError", 500, 502)])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_server_error_says_no_store(make_service, code, http_status, status, method):
    service = _shared(make_service, s3_max_attempts=1)
    with Stubber(service.s3) as stub:
        stub.add_client_error("get_object" if method == "GET" else "head_object", code, "", http_status)
        response = service.client.open(f"/files/{KEY}", method=method)
    assert (response.status_code, response.headers["Cache-Control"]) == (status, "no-store")


def test_the_private_mode_keeps_today_s_headers(service, s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    assert service.client.get(f"/files/{KEY}").headers["Cache-Control"] == "private, max-age=300"
    assert service.client.head("/files/missing.bin").headers["Cache-Control"] == "no-store"
    assert service.client.get("/").headers["Cache-Control"] == "no-store"
