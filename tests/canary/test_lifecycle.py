"""The hook's reading of ECS lifecycle payloads: the documented shapes parse to the exact invocation, and anything
else is FAILED with its reason before the rule is touched."""

from __future__ import annotations

import re

import pytest

from canary import hook
from canary.lifecycle import EventError, Invocation, parse_event
from tests.canary.support import REVISION_ARN, SERVICE_ARN, hook_config, lifecycle_event, log_lines

TOP_LEVEL = {
    "serviceArn": SERVICE_ARN,
    "targetServiceRevisionArn": REVISION_ARN,
    "testTrafficWeights": {REVISION_ARN: 100},
    "productionTrafficWeights": {},
}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (lifecycle_event(), Invocation(SERVICE_ARN, REVISION_ARN, "POST_TEST_TRAFFIC_SHIFT", {}, 0)),
        (TOP_LEVEL, Invocation(SERVICE_ARN, REVISION_ARN, None, {}, 0)),
        ({**TOP_LEVEL, "hookDetails": None}, Invocation(SERVICE_ARN, REVISION_ARN, None, {}, 0)),
        (
            {**TOP_LEVEL, "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT", "hookDetails": {"attempt": 4, "bucket": "b"}},
            Invocation(SERVICE_ARN, REVISION_ARN, "POST_TEST_TRAFFIC_SHIFT", {"attempt": 4, "bucket": "b"}, 4),
        ),
        # First creation: no earlier revision, so no weights to report.
        (
            {"executionDetails": {"serviceArn": SERVICE_ARN, "targetServiceRevisionArn": REVISION_ARN}},
            Invocation(SERVICE_ARN, REVISION_ARN, None, {}, 0),
        ),
        # executionDetails wins over the top level where both have a field.
        (
            {**lifecycle_event(), "targetServiceRevisionArn": "arn:other"},
            Invocation(SERVICE_ARN, REVISION_ARN, "POST_TEST_TRAFFIC_SHIFT", {}, 0),
        ),
    ],
    ids=["executionDetails", "top-level", "hookDetails-null", "attempt-counter", "first-creation", "nested-first"],
)
def test_documented_shapes_parse_exactly(event, expected):
    assert parse_event(event) == expected


def _without(name: str) -> dict:
    event = lifecycle_event()
    del event["executionDetails"][name]
    return event


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (None, "event is not a JSON object"),
        ([TOP_LEVEL], "event is not a JSON object"),
        ({"executionDetails": "x"}, "executionDetails is not an object"),
        (_without("serviceArn"), "event has no serviceArn"),
        (_without("targetServiceRevisionArn"), "event has no targetServiceRevisionArn"),
        ({**TOP_LEVEL, "targetServiceRevisionArn": ""}, "event has no targetServiceRevisionArn"),
        ({**TOP_LEVEL, "testTrafficWeights": [100]}, "testTrafficWeights is not an object"),
        ({**TOP_LEVEL, "productionTrafficWeights": "100"}, "productionTrafficWeights is not an object"),
        ({**TOP_LEVEL, "hookDetails": "attempt=1"}, "hookDetails is not an object"),
        ({**TOP_LEVEL, "hookDetails": {"attempt": -1}}, "hookDetails.attempt is not a non-negative integer"),
        ({**TOP_LEVEL, "hookDetails": {"attempt": "2"}}, "hookDetails.attempt is not a non-negative integer"),
        ({**TOP_LEVEL, "hookDetails": {"attempt": True}}, "hookDetails.attempt is not a non-negative integer"),
        (
            lifecycle_event(lifecycleStage="PRODUCTION_TRAFFIC_SHIFT"),
            "invoked at lifecycle stage 'PRODUCTION_TRAFFIC_SHIFT'; this hook runs at POST_TEST_TRAFFIC_SHIFT only",
        ),
    ],
)
def test_anything_else_is_failed_with_its_reason_before_the_rule_is_touched(rule, event, reason, capsys):
    with pytest.raises(EventError, match=f"^{re.escape(reason)}$"):
        parse_event(event)
    assert hook.run(event, config=hook_config("http://127.0.0.1:9"), elbv2=rule.client) == {"hookStatus": "FAILED"}
    assert rule.calls == []
    [line] = log_lines(capsys)
    assert (line["verdict"], line["reason"], line["failed_checks"]) == ("FAILED", reason, [])


def test_a_wrong_stage_is_logged_with_the_stage_and_revision_it_came_with(rule, capsys):
    event = lifecycle_event(lifecycleStage="TEST_TRAFFIC_SHIFT")
    assert hook.run(event, config=hook_config("http://127.0.0.1:9"), elbv2=rule.client) == {"hookStatus": "FAILED"}
    [line] = log_lines(capsys)
    assert (line["lifecycle_stage"], line["target_revision"], line["service"], line["attempt"]) == (
        "TEST_TRAFFIC_SHIFT",
        REVISION_ARN,
        SERVICE_ARN,
        None,
    )
