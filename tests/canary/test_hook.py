"""The release hook against the real service on loopback, through a FakeTestListener driven by the stubbed
ModifyRule calls: the verdicts, the unlock/lock sequence, the token, and the one log line."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from canary import checks, hook
from canary.hook import LOCK_CIDR, TOKEN_HEADER, header_condition, locked_conditions
from canary.target import request
from tests.canary.support import (
    CANARY_SHA256,
    OTHER_KEY,
    REVISION_ARN,
    RULE_ARN,
    canary_target,
    hook_config,
    lifecycle_event,
    log_lines,
)

S3_CHECKS = {"download", "head", "range", "revalidation", "missing"}


def unlock_token(rule) -> str:
    """The token of the unlock call, after asserting the calls were exactly unlock, then lock with another value."""
    assert [call["RuleArn"] for call in rule.calls] == [RULE_ARN, RULE_ARN]
    token = rule.calls[0]["Conditions"][0]["HttpHeaderConfig"]["Values"][0]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert rule.calls[0]["Conditions"] == [header_condition(token)]
    locked = rule.calls[1]["Conditions"]
    lock_value = locked[0]["HttpHeaderConfig"]["Values"][0]
    assert locked == locked_conditions(lock_value)
    assert lock_value != token
    assert {"Field": "source-ip", "SourceIpConfig": {"Values": [LOCK_CIDR]}} in locked
    return token


def only_log_line(capsys) -> dict:
    lines = log_lines(capsys)
    assert len(lines) == 1
    return lines[0]


def test_a_healthy_revision_succeeds_and_the_listener_is_locked_again(rule, listener_for, service_url, capsys):
    # The first three requests after the unlock still meet the old rule: the hook must wait, not fail.
    listener = listener_for(service_url, propagation=3)
    rule.expect(2)
    assert hook.run(lifecycle_event(), config=hook_config(listener.url), elbv2=rule.client) == {
        "hookStatus": "SUCCEEDED"
    }
    token = unlock_token(rule)
    assert listener.tokens_seen[:4] == [token] * 4  # three refused polls, then the one that got through
    assert set(listener.tokens_seen) == {token}
    # Once the lock has propagated (three requests later), the token opens nothing any more.
    with_token = replace(canary_target(listener.url), headers={TOKEN_HEADER: token})
    assert [request(with_token, "GET", "/health").status for _ in range(4)] == [200, 200, 200, 403]
    line = only_log_line(capsys)
    assert line == {
        "event": "release_hook",
        "lifecycle_stage": "POST_TEST_TRAFFIC_SHIFT",
        "service": lifecycle_event()["executionDetails"]["serviceArn"],
        "target_revision": REVISION_ARN,
        "attempt": 1,
        "verdict": "SUCCEEDED",
        "reason": f"all {len(checks.CHECK_NAMES)} checks passed",
        "passed_checks": list(checks.CHECK_NAMES),
        "failed_checks": [],
    }


def test_a_revision_whose_s3_is_down_fails_naming_the_checks_and_why(rule, listener_for, s3_down_url, capsys):
    listener = listener_for(s3_down_url)
    rule.expect(2)
    assert hook.run(lifecycle_event(), config=hook_config(listener.url), elbv2=rule.client) == {"hookStatus": "FAILED"}
    unlock_token(rule)
    line = only_log_line(capsys)
    assert line["verdict"] == "FAILED"
    assert line["target_revision"] == REVISION_ARN
    assert line["reason"] == f"{len(S3_CHECKS)} of {len(checks.CHECK_NAMES)} checks failed"
    failed = {entry["name"]: entry["detail"] for entry in line["failed_checks"]}
    assert set(failed) == S3_CHECKS
    assert failed["download"] == "GET object: expected 200, got 503 (error 'storage unavailable, retry later')"
    assert set(line["passed_checks"]) == set(checks.CHECK_NAMES) - S3_CHECKS


def test_other_bytes_at_the_key_fail_the_sha256_check(rule, listener_for, service_url, capsys):
    listener = listener_for(service_url)
    rule.expect(2)
    assert hook.run(lifecycle_event(), config=hook_config(listener.url, key=OTHER_KEY), elbv2=rule.client) == {
        "hookStatus": "FAILED"
    }
    unlock_token(rule)
    [failed] = only_log_line(capsys)["failed_checks"]
    assert failed["name"] == "download"
    assert failed["detail"].startswith(f"GET object: expected SHA-256 {CANARY_SHA256[:16]}…, got ")


def test_a_check_that_raises_still_ends_in_a_verdict_and_a_locked_rule(
    rule, listener_for, service_url, capsys, monkeypatch
):
    def broken(target):
        raise RuntimeError("a bug in a check")

    monkeypatch.setitem(checks.CHECKS, "head", broken)
    listener = listener_for(service_url)
    rule.expect(2)
    assert hook.run(lifecycle_event(), config=hook_config(listener.url), elbv2=rule.client) == {"hookStatus": "FAILED"}
    unlock_token(rule)
    assert only_log_line(capsys)["reason"] == "hook error: RuntimeError: a bug in a check"


def test_a_failed_unlock_is_failed_and_the_rule_is_still_locked(rule, service_url, capsys):
    rule.stubber.add_client_error("modify_rule", "AccessDenied", "not allowed", 403)
    rule.expect(1)
    assert hook.run(lifecycle_event(), config=hook_config(service_url), elbv2=rule.client) == {"hookStatus": "FAILED"}
    assert len(rule.calls) == 2
    assert rule.calls[1]["Conditions"][1] == {"Field": "source-ip", "SourceIpConfig": {"Values": [LOCK_CIDR]}}
    assert only_log_line(capsys)["reason"].startswith("hook error: ClientError: An error occurred (AccessDenied)")


def test_a_failed_relock_turns_a_pass_into_failed(rule, listener_for, service_url, capsys):
    listener = listener_for(service_url)
    rule.expect(1)
    rule.stubber.add_client_error("modify_rule", "Throttling", "rate exceeded", 400)
    assert hook.run(lifecycle_event(), config=hook_config(listener.url), elbv2=rule.client) == {"hookStatus": "FAILED"}
    line = only_log_line(capsys)
    assert line["reason"].startswith("re-lock failed (ClientError: An error occurred (Throttling)")
    assert line["reason"].endswith(f"before that: SUCCEEDED, all {len(checks.CHECK_NAMES)} checks passed")


@pytest.mark.parametrize("upstream", ["closed", "no-target", "not-propagated"])
def test_a_listener_that_does_not_route_yet_is_in_progress(
    upstream, rule, listener_for, service_url, closed_url, capsys
):
    if upstream == "closed":
        url, expected = closed_url, "GET /health got no answer (ConnectionRefusedError)"
    elif upstream == "no-target":
        url, expected = listener_for(None).url, "GET /health answered 503"
    else:
        url, expected = listener_for(service_url, propagation=10_000).url, "GET /health answered 403"
    rule.expect(2)
    event = lifecycle_event(hookDetails={"attempt": 3, "configured": "kept"})
    assert hook.run(event, config=hook_config(url, ready_wait_s=0.2), elbv2=rule.client) == {
        "hookStatus": "IN_PROGRESS",
        "callBackDelay": 15,
        "hookDetails": {"attempt": 4, "configured": "kept"},
    }
    unlock_token(rule)
    line = only_log_line(capsys)
    assert (line["verdict"], line["attempt"]) == ("IN_PROGRESS", 4)
    assert line["reason"] == f"the test listener does not route to healthy new tasks yet: {expected}"


def test_the_last_attempt_that_finds_no_route_is_failed(rule, closed_url, capsys):
    rule.expect(2)
    event = lifecycle_event(hookDetails={"attempt": hook.MAX_ATTEMPTS - 1})
    assert hook.run(event, config=hook_config(closed_url, ready_wait_s=0.1), elbv2=rule.client) == {
        "hookStatus": "FAILED"
    }
    assert only_log_line(capsys)["reason"] == (
        f"the test listener never routed to healthy new tasks in {hook.MAX_ATTEMPTS} attempts: "
        "GET /health got no answer (ConnectionRefusedError)"
    )


class LambdaContext:
    def __init__(self, remaining_s: float) -> None:
        self.remaining_s = remaining_s

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_s * 1000)


def test_the_wait_leaves_the_lambdas_last_seconds_to_the_checks_and_the_relock(rule, listener_for):
    listener = listener_for(None)
    rule.expect(2)
    context = LambdaContext(hook.CHECKS_RESERVE_S)  # nothing left to wait: one poll, then IN_PROGRESS
    assert (
        hook.run(lifecycle_event(), context, config=hook_config(listener.url, ready_wait_s=30), elbv2=rule.client)[
            "hookStatus"
        ]
        == "IN_PROGRESS"
    )
    assert len(listener.tokens_seen) == 1


def test_checks_that_would_outlast_the_lambda_are_not_started(rule, listener_for, service_url, capsys):
    listener = listener_for(service_url)
    rule.expect(2)
    context = LambdaContext(hook.RELOCK_RESERVE_S)
    assert hook.run(lifecycle_event(), context, config=hook_config(listener.url), elbv2=rule.client) == {
        "hookStatus": "FAILED"
    }
    line = only_log_line(capsys)
    assert {entry["detail"] for entry in line["failed_checks"]} == {"not run: the invocation ran out of time"}
    assert len(line["failed_checks"]) == len(checks.CHECK_NAMES)
    assert len(listener.tokens_seen) == 1  # the readiness poll only


def test_the_token_is_in_neither_the_log_line_nor_the_answer(rule, listener_for, service_url, capsys, monkeypatch):
    # A check whose failure quotes the token (as a careless one might) still cannot leak it.
    monkeypatch.setitem(checks.CHECKS, "index", lambda target: checks.CheckResult("index", False, str(target.headers)))
    listener = listener_for(service_url)
    rule.expect(2)
    answer = hook.run(lifecycle_event(), config=hook_config(listener.url), elbv2=rule.client)
    token = unlock_token(rule)
    lock_value = rule.calls[1]["Conditions"][0]["HttpHeaderConfig"]["Values"][0]
    printed = capsys.readouterr().out
    assert "[redacted]" in printed
    for secret in (token, lock_value):
        assert secret not in printed
        assert secret not in repr(answer)


def test_handler_reads_the_environment_and_uses_the_module_client(rule, listener_for, service_url, monkeypatch):
    listener = listener_for(service_url)
    monkeypatch.setattr(hook, "_client", rule.client)
    for name, value in {
        "TEST_BASE_URL": listener.url,
        "TEST_RULE_ARN": RULE_ARN,
        "OBJECT_KEY": canary_target(listener.url).key,
        "OBJECT_SHA256": CANARY_SHA256.upper(),
    }.items():
        monkeypatch.setenv(name, value)
    rule.expect(2)
    assert hook.handler(lifecycle_event(), LambdaContext(120)) == {"hookStatus": "SUCCEEDED"}
    unlock_token(rule)


@pytest.mark.parametrize(
    ("missing", "value", "reason"),
    [
        ("TEST_RULE_ARN", "", "TEST_RULE_ARN is not set"),
        ("TEST_BASE_URL", "ftp://host", "TEST_BASE_URL must be an http:// or https:// URL with a host"),
        ("OBJECT_SHA256", "abc", "OBJECT_SHA256 must be 64 hex digits"),
        ("OBJECT_KEY", " ", "OBJECT_KEY is not set"),
    ],
)
def test_a_bad_configuration_is_failed_without_touching_the_rule(rule, monkeypatch, capsys, missing, value, reason):
    monkeypatch.setattr(hook, "_client", rule.client)
    environment = {
        "TEST_BASE_URL": "https://download.example.com:8443",
        "TEST_RULE_ARN": RULE_ARN,
        "OBJECT_KEY": "_canary/smoke-canary.txt",
        "OBJECT_SHA256": CANARY_SHA256,
    }
    for name, setting in {**environment, missing: value}.items():
        monkeypatch.setenv(name, setting)
    assert hook.handler(lifecycle_event(), None) == {"hookStatus": "FAILED"}
    assert rule.calls == []
    assert only_log_line(capsys)["reason"] == reason
