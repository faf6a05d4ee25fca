"""The checks themselves: they pass on the real service with any extra headers, and each one fails, in one short
line that names what was expected and what came, on a service that is wrong or not there."""

from __future__ import annotations

import hashlib
import re

import pytest

from canary import checks
from canary.target import ConfigError, Target, target_from_env
from download_service.keys import InvalidKeyError, decode_key
from stages.canary import CANARY_FILE
from tests.canary.servers import FixedServer
from tests.canary.support import CANARY_SHA256, canary_target

#: A header value the checks must send but never repeat (low entropy on purpose: not a real token).
HEADER_VALUE = "feedface" * 4
BODY = b"BODY-MARKER the same answer to every request\n"


def test_every_check_passes_on_the_service_with_extra_headers(service_url):
    target = canary_target(service_url)
    results = checks.run_checks(service_url, target.key, CANARY_SHA256, headers={"X-Release-Test-Token": HEADER_VALUE})
    assert results == [checks.CheckResult(name, True, "ok") for name in checks.CHECK_NAMES]


def test_a_subset_runs_in_the_order_given(service_url):
    names = ("range", "health")
    results = checks.run_checks(service_url, canary_target(service_url).key, CANARY_SHA256, names=names)
    assert [result.name for result in results] == list(names)


def test_the_wrong_digest_fails_only_the_download(service_url):
    target = Target(service_url, canary_target(service_url).key, "0" * 64)
    size = CANARY_FILE.stat().st_size
    assert checks.check_download(target) == checks.CheckResult(
        "download", False, f"GET object: expected SHA-256 0000000000000000…, got {CANARY_SHA256[:16]}… ({size} B)"
    )
    assert [result.name for result in checks.run_target(target) if not result.ok] == ["download"]


@pytest.fixture(scope="module")
def everything_200():
    """A server answering every request 200 with the same small text and no download headers."""
    with FixedServer(200, BODY, [("Content-Type", "text/plain")]) as server:
        yield server.url


EXPECTED_ON_EVERYTHING_200 = {
    "health": 'GET /health: expected {"status": "ok"}, got None',
    "index": "GET /: expected service download-service, got {}",
    "download": "GET object: expected an attachment, got ''",
    "head": "GET object: expected its ETag header, got none",
    "range": "GET object with Range: expected 206, got 200",
    "revalidation": "GET object: expected an ETag, got none",
    "missing": "GET missing key: expected 404, got 200",
    "bad_key": "GET bad key: expected 400, got 200",
    "method": "POST object: expected 405, got 200",
}


def test_each_check_fails_on_a_service_that_answers_200_to_everything(everything_200):
    target = Target(
        everything_200, "_canary/x.txt", hashlib.sha256(BODY).hexdigest(), {"X-Release-Test-Token": HEADER_VALUE}
    )
    results = checks.run_target(target)
    assert {result.name: (result.ok, result.detail) for result in results} == {
        name: (False, detail) for name, detail in EXPECTED_ON_EVERYTHING_200.items()
    }


def test_a_json_error_must_be_the_services_small_one():
    with FixedServer(404, b'{"message": "Not Found"}', [("Content-Type", "application/json")]) as server:
        result = checks.check_missing(Target(server.url, "k", "0" * 64))
    assert result.detail == "GET missing key: expected JSON keys error, request_id, got ['message']"
    with FixedServer(404, b"x" * 5000) as server:
        result = checks.check_missing(Target(server.url, "k", "0" * 64))
    assert result.detail == "GET missing key: expected a small JSON error, got 5000 B"


def test_a_service_error_names_its_reason_in_the_detail():
    with FixedServer(503, b'{"error": "server busy, retry later", "request_id": "r"}') as server:
        result = checks.check_health(Target(server.url, "k", "0" * 64))
    assert result.detail == "GET /health: expected 200, got 503 (error 'server busy, retry later')"


def test_every_check_fails_with_no_answer_from_a_closed_port(closed_url):
    results = checks.run_target(Target(closed_url, "k", "0" * 64))
    assert {result.detail for result in results} == {
        "no answer: ConnectionRefusedError: [Errno 111] Connection refused"
    }
    assert not any(result.ok for result in results)


def test_details_are_one_short_line_without_request_headers_or_bodies(everything_200, closed_url):
    for base_url in (everything_200, closed_url):
        target = Target(base_url, "a\r\nb" * 200, "0" * 64, {"X-Release-Test-Token": HEADER_VALUE})
        for result in checks.run_target(target):
            assert "\n" not in result.detail
            assert "\r" not in result.detail
            assert len(result.detail) <= checks.DETAIL_MAX
            assert HEADER_VALUE not in result.detail
            assert "BODY-MARKER" not in result.detail


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "PROBE_BASE_URL is not set"),
        ({"PROBE_BASE_URL": "download.example.com"}, "PROBE_BASE_URL must be an http:// or https:// URL with a host"),
        ({"PROBE_BASE_URL": "https://d.example.com"}, "OBJECT_KEY is not set"),
        ({"PROBE_BASE_URL": "https://d.example.com", "OBJECT_KEY": "k"}, "OBJECT_SHA256 is not set"),
        (
            {"PROBE_BASE_URL": "https://d.example.com", "OBJECT_KEY": "k", "OBJECT_SHA256": "g" * 64},
            "OBJECT_SHA256 must be 64 hex digits",
        ),
    ],
)
def test_target_from_env_names_the_variable_at_fault(environ, message):
    with pytest.raises(ConfigError, match=f"^{message}$"):
        target_from_env("PROBE_BASE_URL", environ)


def test_target_from_env_keeps_a_path_prefix_and_lowercases_the_digest(service_url):
    environ = {"PROBE_BASE_URL": service_url + "/", "OBJECT_KEY": canary_target(service_url).key}
    target = target_from_env("PROBE_BASE_URL", {**environ, "OBJECT_SHA256": CANARY_SHA256.upper()}, timeout=3)
    assert (target.sha256, target.timeout) == (CANARY_SHA256, 3)
    assert checks.check_download(target).ok


def test_the_bad_key_is_one_the_service_refuses_and_no_managed_waf_rule_inspects_for():
    """Prod's WAF stands in front of the test listener too: a managed rule that blocked the release's bad-key request
    (403) would fail every production release while dev passes. The key is refused for an empty segment only; its
    path holds nothing the Core rule set or Known bad inputs say they inspect a URI path for (checks.BAD_KEY_PATH
    cites the rule lists)."""
    path = checks.BAD_KEY_PATH
    assert re.fullmatch(r"/files/[A-Za-z0-9_/-]+", path)  # no encoding, no dot, no extension
    assert len(path.encode()) < 1024  # SizeRestrictions_URIPATH
    with pytest.raises(InvalidKeyError, match="empty"):
        decode_key(path.removeprefix("/files/").encode())
