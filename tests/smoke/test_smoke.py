"""Acceptance checks a deployment must pass before it takes traffic: run by the pipeline after dev and prod."""

from __future__ import annotations

import hashlib
import urllib.parse

TIMEOUT = 20


def files_path(key: str) -> str:
    return "/files/" + urllib.parse.quote(key)


def test_health(target, http):
    response = http.get(target.url("/health"), timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_index_reports_a_version(target, http):
    body = http.get(target.url("/"), timeout=TIMEOUT).json()
    assert body["service"] == "download-service"
    assert body["version"]


def test_known_object_downloads_intact(target, http):
    response = http.get(target.url(files_path(target.key)), timeout=TIMEOUT)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == target.sha256
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert int(response.headers["Content-Length"]) == len(response.content)


def test_head_matches_get(target, http):
    head = http.head(target.url(files_path(target.key)), timeout=TIMEOUT)
    assert head.status_code == 200
    assert head.content == b""
    get = http.get(target.url(files_path(target.key)), timeout=TIMEOUT)
    for header in ("Content-Length", "ETag", "Content-Type", "Content-Disposition"):
        assert head.headers[header] == get.headers[header]


def test_range_and_revalidation(target, http):
    url = target.url(files_path(target.key))
    partial = http.get(url, headers={"Range": "bytes=0-9"}, timeout=TIMEOUT)
    assert partial.status_code == 206
    assert len(partial.content) == 10
    assert partial.headers["Content-Range"].startswith("bytes 0-9/")
    etag = partial.headers["ETag"]
    assert http.get(url, headers={"If-None-Match": etag}, timeout=TIMEOUT).status_code == 304


def test_missing_object_is_404_json(target, http):
    response = http.get(target.url("/files/_canary/does-not-exist.txt"), timeout=TIMEOUT)
    assert response.status_code == 404
    assert set(response.json()) == {"error", "request_id"}


def test_bad_key_and_bad_method_are_client_errors(target, http):
    assert http.get(target.url("/files/a%00b"), timeout=TIMEOUT).status_code == 400
    response = http.post(target.url(files_path(target.key)), timeout=TIMEOUT)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}
