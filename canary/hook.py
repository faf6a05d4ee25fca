"""The ECS lifecycle hook at POST_TEST_TRAFFIC_SHIFT: runs every smoke check against the new revision alone, through
the test listener, before any production traffic moves to it. FAILED makes ECS roll the deployment back.

The test listener is on the internet-facing ALB (the hook runs outside the VPC) and its one rule can never match at
rest: an `X-Release-Test-Token` header with a random value AND source IP 192.0.2.0/32 (TEST-NET-1, never a client).
Each invocation sets the rule to a fresh token alone, waits until the listener honours it, runs the checks with that
header, and always locks the rule again. Environment: TEST_BASE_URL (the test listener, e.g.
`https://download.example.com:8443`), TEST_RULE_ARN, OBJECT_KEY (after /files/), OBJECT_SHA256.

Guarantees of `handler(event, context)`:

- it answers {"hookStatus": "SUCCEEDED"}, {"hookStatus": "FAILED"} or {"hookStatus": "IN_PROGRESS",
  "callBackDelay": CALLBACK_DELAY_S, "hookDetails": {...the details it got, "attempt": n}}, and raises nothing;
- IN_PROGRESS only while the test listener does not route to healthy new tasks yet (the token not honoured within
  the wait, or the ALB's 502/503/504), FAILED once that lasted MAX_ATTEMPTS invocations (about ten minutes); a
  check that ran and failed is FAILED at once, and so is a malformed event, a wrong stage or a bad configuration;
- the rule is unlocked only for a valid event and configuration, and once unlocked it is locked again before the
  answer, whatever the checks did (a failed re-lock makes the verdict FAILED);
- it prints exactly one JSON line: stage, service, target revision, attempt, verdict, reason, the checks that
  passed and the failed ones with their details. Neither that line nor the answer ever contains a token.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from http.client import HTTPException

from canary import checks
from canary.lifecycle import (
    ATTEMPT_KEY,
    FAILED,
    HOOK_STAGE,
    IN_PROGRESS,
    SUCCEEDED,
    EventError,
    Invocation,
    field_of,
    parse_event,
)
from canary.target import ConfigError, Target, request, target_from_env

#: What the CDK app and the tests use; HOOK_STAGE is defined with the rest of the payload's vocabulary.
__all__ = [
    "CALLBACK_DELAY_S",
    "HOOK_STAGE",
    "LOCK_CIDR",
    "MAX_ATTEMPTS",
    "TOKEN_HEADER",
    "HookConfig",
    "elbv2_client",
    "handler",
    "header_condition",
    "locked_conditions",
    "run",
    "wait_until_routed",
]

TOKEN_HEADER = "X-Release-Test-Token"  # noqa: S105 - a header name; the value is the secret
LOCK_CIDR = "192.0.2.0/32"
CALLBACK_DELAY_S = 15
READY_WAIT_S = 45.0
POLL_INTERVAL_S = 2.0
#: 10 x (45 s of waiting + 15 s until ECS calls again): about ten minutes for the new tasks to become reachable.
MAX_ATTEMPTS = 10
#: Per request of a check; short, so that a hanging task leaves time for the re-lock.
REQUEST_TIMEOUT_S = 5.0
#: Of the Lambda's remaining time, what the wait leaves for the checks and the re-lock; and what the checks leave
#: for the re-lock alone (boto3 retries a throttled ModifyRule).
CHECKS_RESERVE_S = 45.0
RELOCK_RESERVE_S = 15.0
#: What the test listener answers while it does not route to healthy new tasks: its default action (403/404, the
#: rule does not honour the token yet) or the ALB itself (502/503/504: no healthy target, or it does not answer).
NOT_YET_STATUSES = frozenset({403, 404, 502, 503, 504})


def header_condition(value: str) -> dict:
    """The rule condition on TOKEN_HEADER, in the ELBv2 API's shape."""
    return {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": TOKEN_HEADER, "Values": [value]}}


def locked_conditions(value: str) -> list[dict]:
    """The rule's conditions at rest: the header must be `value` and the client must be in LOCK_CIDR, which no
    client ever is, so nothing matches whatever `value` is."""
    return [header_condition(value), {"Field": "source-ip", "SourceIpConfig": {"Values": [LOCK_CIDR]}}]


@dataclass(frozen=True)
class HookConfig:
    """Where the test listener is, which rule guards it, which object to check, and how long to wait."""

    target: Target
    rule_arn: str
    ready_wait_s: float = READY_WAIT_S
    poll_interval_s: float = POLL_INTERVAL_S
    max_attempts: int = MAX_ATTEMPTS
    callback_delay_s: int = CALLBACK_DELAY_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HookConfig:
        """From TEST_BASE_URL, TEST_RULE_ARN, OBJECT_KEY, OBJECT_SHA256; ConfigError names a bad one."""
        environ = os.environ if environ is None else environ
        target = target_from_env("TEST_BASE_URL", environ, timeout=REQUEST_TIMEOUT_S)
        if not environ.get("TEST_RULE_ARN", "").strip():
            raise ConfigError("TEST_RULE_ARN is not set")
        return cls(target, environ["TEST_RULE_ARN"].strip())


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str
    failed: tuple[checks.CheckResult, ...] = ()
    passed: tuple[str, ...] = ()


_client = None


def elbv2_client():
    """The ELBv2 client, created on first use: the runtime's own boto3, imported only here, so the checks and the
    probe never need it."""
    global _client
    if _client is None:
        import boto3
        from botocore.config import Config

        _client = boto3.client("elbv2", config=Config(retries={"mode": "standard", "max_attempts": 5}))
    return _client


def handler(event: object, context: object) -> dict:
    """The Lambda entry point: run() with the configuration from the environment and the module's client."""
    return run(event, context)


def run(
    event: object,
    context: object = None,
    *,
    config: HookConfig | None = None,
    elbv2=None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """One invocation (see the module's guarantees). `config` and `elbv2` default to the environment's and
    elbv2_client(); `context` bounds the waiting by the Lambda's remaining time when it has
    get_remaining_time_in_millis."""
    tokens: list[str] = []
    invocation = None
    try:
        invocation = parse_event(event)
        config = config or HookConfig.from_env()
        verdict = _test_revision(invocation, config, elbv2 or elbv2_client(), _Budget(context), tokens, sleep, clock)
    except (EventError, ConfigError) as err:
        verdict = Verdict(FAILED, str(err))
    except Exception as err:  # ECS gets a verdict and the log its line whatever went wrong
        verdict = Verdict(FAILED, f"hook error: {type(err).__name__}: {err}")
    _log(event, invocation, verdict, tokens)
    if verdict.status == IN_PROGRESS:
        details = {**invocation.details, ATTEMPT_KEY: invocation.attempt + 1}
        return {"hookStatus": IN_PROGRESS, "callBackDelay": config.callback_delay_s, "hookDetails": details}
    return {"hookStatus": verdict.status}


@dataclass(frozen=True)
class _Budget:
    context: object

    def left(self) -> float:
        """Seconds until Lambda stops this invocation (unbounded without a Lambda context)."""
        remaining = getattr(self.context, "get_remaining_time_in_millis", None)
        return remaining() / 1000 if callable(remaining) else math.inf


def _test_revision(invocation, config, elbv2, budget, tokens, sleep, clock) -> Verdict:
    """Unlocks the rule for a fresh token, judges the revision through it, and re-locks the rule in any case."""
    token = secrets.token_hex(16)
    tokens.append(token)
    try:
        elbv2.modify_rule(RuleArn=config.rule_arn, Conditions=[header_condition(token)])
        target = replace(config.target, headers={TOKEN_HEADER: token})
        verdict = _judge(invocation, config, target, budget, sleep, clock)
    except Exception as err:  # any failure is a verdict, and the rule must be locked after it
        verdict = Verdict(FAILED, f"hook error: {type(err).__name__}: {err}")
    finally:
        relock_error = _relock(elbv2, config.rule_arn, tokens)
    if relock_error:
        # The listener may still take the token: fail closed, so that someone looks at the rule.
        reason = f"re-lock failed ({relock_error}); before that: {verdict.status}, {verdict.reason}"
        return Verdict(FAILED, reason, verdict.failed, verdict.passed)
    return verdict


def _relock(elbv2, rule_arn: str, tokens: list[str]) -> str | None:
    value = secrets.token_hex(16)
    tokens.append(value)
    try:
        elbv2.modify_rule(RuleArn=rule_arn, Conditions=locked_conditions(value))
    except Exception as err:  # reported in the verdict: raising would skip the log line
        return f"{type(err).__name__}: {err}"
    return None


def _judge(invocation, config, target, budget, sleep, clock) -> Verdict:
    wait_s = max(0.0, min(config.ready_wait_s, budget.left() - CHECKS_RESERVE_S))
    not_yet = wait_until_routed(target, wait_s, config.poll_interval_s, sleep, clock)
    if not_yet:
        number = invocation.attempt + 1
        if number >= config.max_attempts:
            return Verdict(
                FAILED, f"the test listener never routed to healthy new tasks in {number} attempts: {not_yet}"
            )
        return Verdict(IN_PROGRESS, f"the test listener does not route to healthy new tasks yet: {not_yet}")
    results = []
    for name in checks.CHECK_NAMES:
        # A check makes at most two requests; one that cannot finish before the re-lock is not started.
        if budget.left() < RELOCK_RESERVE_S + 2 * target.timeout:
            results.append(checks.CheckResult(name, False, "not run: the invocation ran out of time"))
        else:
            results.append(checks.CHECKS[name](target))
    failed = tuple(result for result in results if not result.ok)
    passed = tuple(result.name for result in results if result.ok)
    if failed:
        return Verdict(FAILED, f"{len(failed)} of {len(results)} checks failed", failed, passed)
    return Verdict(SUCCEEDED, f"all {len(results)} checks passed", passed=passed)


def wait_until_routed(
    target: Target, wait_s: float, poll_interval_s: float, sleep=time.sleep, clock=time.monotonic
) -> str | None:
    """Polls GET /health (with the target's headers) for up to `wait_s`, at least once. None as soon as an answer
    is not one of NOT_YET_STATUSES (the checks then judge it); otherwise what the last poll got."""
    deadline = clock() + wait_s
    while True:
        try:
            status = request(target, "GET", checks.HEALTH_PATH).status
        except (OSError, HTTPException) as err:
            last = f"GET /health got no answer ({type(err).__name__})"
        else:
            if status not in NOT_YET_STATUSES:
                return None
            last = f"GET /health answered {status}"
        if clock() + poll_interval_s > deadline:
            return last
        sleep(poll_interval_s)


def _log(event: object, invocation: Invocation | None, verdict: Verdict, tokens: list[str]) -> None:
    """The invocation's one log line, with every value this invocation put into the rule redacted."""
    fields = event if isinstance(event, Mapping) else {}

    def given(name: str) -> str | None:
        """What a malformed event holds in `name`, when that is text."""
        value = field_of(fields, name)
        return value[:300] if isinstance(value, str) else None

    record = {
        "event": "release_hook",
        "lifecycle_stage": invocation.stage if invocation else given("lifecycleStage"),
        "service": invocation.service_arn if invocation else given("serviceArn"),
        "target_revision": invocation.revision_arn if invocation else given("targetServiceRevisionArn"),
        "attempt": invocation.attempt + 1 if invocation else None,
        "verdict": verdict.status,
        "reason": verdict.reason,
        "passed_checks": list(verdict.passed),
        "failed_checks": [{"name": result.name, "detail": result.detail} for result in verdict.failed],
    }
    line = json.dumps(record)
    for token in tokens:
        line = line.replace(token, "[redacted]")
    print(line, flush=True)
