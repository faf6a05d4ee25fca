"""The CloudWatch metric filters (stages.monitoring.logs.LOG_METRICS) over lines the real service writes.

The production gunicorn command runs four times, each stopped with SIGTERM: against storage that refuses
connections (s3_error + 503), against a bucket that does not exist (502), against SeaweedFS behind a proxy that cuts
every stream (a download aborted mid-way: errors and an exception), and with one client over its share (a burst of
429s) and then a worker at capacity (a burst of busy 503s). Each filter must count exactly the lines its definition
says, and nothing else: the server errors move the error metrics that the standing 5xx alarm and a release's
deployment alarm read, the refusals the service chooses move none. Which filters each stage's template holds is for
the infra suite to check (it starts no servers); this one checks what they count.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from devtools.faultproxy import FaultProxy
from devtools.seaweed import free_ports
from stages.monitoring.logs import LOG_METRICS, QUERIES

from .cloudwatch_filter import UnsupportedPatternError, matches
from .conftest import BUCKET

_CUT_KEY, _CUT_SIZE = "log-metrics/cut.bin", 16 * 1024 * 1024
_REQUESTS = (
    ("GET", "/health"),
    ("GET", f"/files/{_CUT_KEY}"),
    ("HEAD", "/files/x.bin"),
    ("GET", "/nope"),
    ("POST", "/files/x.bin"),
)
#: Fail fast against storage that is not there: one attempt, a short connect timeout.
_IMPATIENT = {"S3_MAX_ATTEMPTS": "1", "S3_CONNECT_TIMEOUT": "1"}


def _http(url: str, method: str = "GET") -> int:
    """The status; a body is read to the end (or to where the server cut it), as a real client would."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
            with contextlib.suppress(http.client.IncompleteRead):
                response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _run(server) -> tuple[list[str], list[int]]:
    """The statuses of _REQUESTS, then every line the server wrote until its graceful stop."""
    try:
        statuses = [_http(server.url + path, method) for method, path in _REQUESTS]
    finally:
        server.stop()
    return server.log_lines(), statuses


#: Refused requests of each kind in the burst: at low traffic a few a minute would breach prod's 1 % threshold.
BURST = 8


def _refusals(stack) -> tuple[list[str], list[int]]:
    """One worker with two download slots, one slot per client: a client holding its share asks BURST more times
    (429), then, with both slots held, BURST other clients ask (503 busy). Every line, and the statuses."""
    server = stack.server(WORKERS="1", THREADS="4", MAX_STREAMS_PER_CLIENT="1").start()
    path, held, statuses = f"/files/{_CUT_KEY}", [], []
    try:
        held.append(server.stalled_download(path, client="198.51.100.1"))
        statuses += [_refused(server, path, "198.51.100.1") for _ in range(BURST)]
        held.append(server.stalled_download(path, client="198.51.100.2"))
        statuses += [_refused(server, path, f"198.51.100.{10 + n}") for n in range(BURST)]
    finally:
        for sock, _ in held:
            sock.close()
        server.stop()
    assert [status for _, status in held] == [200, 200]
    return server.log_lines(), statuses


def _refused(server, path: str, client: str) -> int:
    sock, status = server.stalled_download(path, client=client)
    sock.close()
    return status


@pytest.fixture(scope="module")
def service_lines(stack, seaweed, s3) -> list[str]:
    """Every line the real service wrote: without storage, without its bucket, with cut streams, refusing."""
    refused = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens: EndpointConnectionError -> 503
    s3.put_object(Bucket=BUCKET, Key=_CUT_KEY, Body=bytes(range(256)) * (_CUT_SIZE // 256))
    with FaultProxy(seaweed.port) as proxy:
        # Every connection reset after 2 MiB: the 16 MiB download aborts mid-stream once its resumes are used up.
        proxy.reset_after(2 * 1024 * 1024, times=None)
        down = stack.server(AWS_ENDPOINT_URL_S3=refused, **_IMPATIENT).start()
        gone = stack.server(FILES_BUCKET="no-such-bucket", **_IMPATIENT).start()  # NoSuchBucket -> 502
        cut = stack.server(AWS_ENDPOINT_URL_S3=proxy.endpoint_url, **_IMPATIENT).start()
        (down_lines, down_statuses), (gone_lines, gone_statuses) = _run(down), _run(gone)
        cut_lines, cut_statuses = _run(cut)
    assert down_statuses == [200, 503, 503, 404, 405]
    assert gone_statuses == [200, 502, 404, 404, 405]  # a HEAD answer has no body: S3 says only 404
    assert cut_statuses == [200, 200, 404, 404, 405]  # the 200 download ends short of its Content-Length
    assert any(json.loads(line).get("event") == "stream_aborted" for line in cut_lines)
    refusal_lines, refusal_statuses = _refusals(stack)
    assert refusal_statuses == [429] * BURST + [503] * BURST
    return down_lines + gone_lines + cut_lines + refusal_lines


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


#: What each metric filter must count, stated on the parsed record (independently of the filter pattern).
COUNTS = {
    "Http5xx": lambda r: r.get("event") == "access" and r["status"] >= 500 and "refused" not in r,
    "ErrorLogs": lambda r: r["level"] in ("error", "critical"),
    "Exceptions": lambda r: "exception" in r,
    "S3Errors": lambda r: r.get("event") == "s3_error" and r["status"] >= 500,
    "NotFound": lambda r: r.get("event") == "s3_error" and r["status"] == 404,
    "Busy": lambda r: r.get("event") == "busy",
    "ClientLimit": lambda r: r.get("event") == "client_limit",
    "WorkerBoots": lambda r: r.get("event") == "worker_boot",
    # The same access lines, per release: the deployment alarm of a progressive release reads these by Version.
    "ReleaseRequests": lambda r: r.get("event") == "access",
    "Release5xx": lambda r: r.get("event") == "access" and r["status"] >= 500 and "refused" not in r,
}


def test_the_sample_covers_every_kind_of_line(service_lines: list[str]) -> None:
    records = _records(service_lines)  # every line is JSON
    events = {r.get("event") for r in records}
    assert {"access", "starting", "ready", "worker_boot", "s3_error", "busy", "client_limit", "sigterm"} <= events
    assert "worker_exit" in events
    assert "shutdown" in events
    assert any("event" not in r for r in records)  # gunicorn's own messages ("Booting worker with pid: ...")
    # The trap the 5xx filter must avoid: the s3_error warning carries a 5xx `status` too.
    assert any(r.get("event") == "s3_error" and r["status"] >= 500 for r in records)


def test_metric_filters_count_exactly_their_lines_of_the_real_service(service_lines: list[str]) -> None:
    assert {spec.name for spec in LOG_METRICS} == set(COUNTS)
    records = _records(service_lines)
    for spec in LOG_METRICS:
        pattern = spec.pattern.log_pattern_string
        counted = [line for line in service_lines if matches(pattern, line)]
        expected = [line for line, record in zip(service_lines, records, strict=True) if COUNTS[spec.name](record)]
        assert expected, f"{spec.name}: no sample line"
        assert counted == expected, f"{spec.name}: {pattern}"
        for dimension, selector in (spec.dimensions or {}).items():
            # CloudWatch publishes a dimensioned metric only for lines that carry the field.
            field = selector.removeprefix("$.")
            assert all(record.get(field) for record in map(json.loads, counted)), (spec.name, dimension)


def test_refusals_move_no_error_metric_and_server_errors_do(service_lines: list[str]) -> None:
    """Issue 23's promise on real lines: a burst of 429s (a client over its share) and of busy 503s (a worker at
    capacity) moves no datapoint of Http5xx (the standing 5xx alarm) or Release5xx (a release's deployment alarm),
    while the 503 of storage that is down and the 502 of a missing bucket move both."""
    records = _records(service_lines)
    access = [(line, r) for line, r in zip(service_lines, records, strict=True) if r.get("event") == "access"]
    refusals = [line for line, r in access if r.get("refused")]
    errors = [line for line, r in access if r["status"] >= 500 and not r.get("refused")]
    assert sorted(json.loads(line)["status"] for line in refusals) == [429] * BURST + [503] * BURST
    assert {json.loads(line)["refused"] for line in refusals} == {"client_limit", "busy"}
    assert {json.loads(line)["status"] for line in errors} == {502, 503}
    for name in ("Http5xx", "Release5xx"):
        pattern = next(spec for spec in LOG_METRICS if spec.name == name).pattern.log_pattern_string
        assert not [line for line in refusals if matches(pattern, line)], name
        assert all(matches(pattern, line) for line in errors), name


def test_queries_use_fields_and_events_the_service_really_logs(service_lines: list[str]) -> None:
    records = _records(service_lines)
    events = {r.get("event") for r in records}
    access_fields = set().union(*(r for r in records if r.get("event") == "access"))
    assert {"path", "status", "duration_ms"} <= access_fields
    for event in ("starting", "ready", "worker_boot", "sigterm", "worker_exit", "shutdown"):
        assert event in events
        assert f'"{event}"' in QUERIES["Start-up and shutdown timeline"]["filter_statements"][0]
    for field in ("worker_pid", "version", "graceful_timeout_s", "exception"):
        assert any(field in r for r in records), field


# ---- the filter-pattern evaluator itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "line", "expected"),
    [
        ('{ $.level = "error" }', '{"level": "error"}', True),
        ('{ $.level = "error" }', '{"level": "ERROR"}', False),  # case-sensitive
        ("{ $.level = error }", '{"level": "error"}', True),  # bare string
        ('{ $.level != "error" }', '{"level": "info"}', True),
        ('{ $.level = "err*" }', '{"level": "error"}', True),
        ('{ $.exception = "*" }', '{"exception": "Traceback..."}', True),
        ('{ $.exception = "*" }', '{"level": "error"}', False),  # missing field
        ("{ $.status >= 500 }", '{"status": 503}', True),
        ("{ $.status >= 500 }", '{"status": "503"}', False),  # a string is not a number
        ("{ $.status >= 500 }", '{"status": 499}', False),
        ("{ $.status = 5* }", '{"status": "5xx"}', True),
        ('{ ($.a = 1) && ($.b = 2) || $.c = "x" }', '{"a": 1, "b": 3, "c": "x"}', True),
        ('{ $.a = 1 && ($.b = 2 || $.c = "x") }', '{"a": 2, "c": "x"}', False),
        ("{ $.user.id = 7 }", '{"user": {"id": 7}}', True),
        ("{ $.items[1] = 2 }", '{"items": [1, 2]}', True),
        ("{ $.flag IS TRUE }", '{"flag": true}', True),
        ("{ $.gone IS NULL }", '{"gone": null}', True),
        ("{ $.gone NOT EXISTS }", "{}", True),
        ('{ $.level = "error" }', "Traceback (most recent call last):", False),  # not JSON
    ],
)
def test_filter_evaluator(pattern: str, line: str, expected: bool) -> None:
    assert matches(pattern, line) is expected


@pytest.mark.parametrize("pattern", ["ERROR", "{ $.message = %regex% }", "{ $.a = }", "{ $.a > abc }"])
def test_filter_evaluator_refuses_what_it_does_not_understand(pattern: str) -> None:
    with pytest.raises(UnsupportedPatternError):
        matches(pattern, "{}")
