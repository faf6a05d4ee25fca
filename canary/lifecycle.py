"""The ECS lifecycle hook payload and answer vocabulary, as documented for Lambda hooks
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html).

A payload carries `serviceArn`, `targetServiceRevisionArn`, `testTrafficWeights`, `productionTrafficWeights` (AWS's
samples read them under `executionDetails`; the top level is accepted too), maybe `lifecycleStage`, and maybe
`hookDetails`: the details configured on the service's hook and/or those a previous IN_PROGRESS answer returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"
#: The key of hookDetails that counts the invocations that answered IN_PROGRESS so far.
ATTEMPT_KEY = "attempt"
SUCCEEDED, FAILED, IN_PROGRESS = "SUCCEEDED", "FAILED", "IN_PROGRESS"


class EventError(ValueError):
    """The event is not an ECS lifecycle payload this hook can judge; the message says why."""


@dataclass(frozen=True)
class Invocation:
    service_arn: str
    revision_arn: str
    stage: str | None
    #: hookDetails as received (from the service's hook configuration and/or our last IN_PROGRESS answer).
    details: dict = field(default_factory=dict)
    #: Earlier invocations of this hook for this deployment that answered IN_PROGRESS.
    attempt: int = 0


def field_of(event: Mapping, name: str) -> object:
    """`name` from executionDetails (the shape AWS's samples read), else from the top level."""
    nested = event.get("executionDetails")
    return nested[name] if isinstance(nested, Mapping) and name in nested else event.get(name)


def parse_event(event: object) -> Invocation:
    """The invocation an ECS lifecycle payload describes. Raises EventError for anything else, and for a stage
    other than POST_TEST_TRAFFIC_SHIFT (an absent stage is taken as ours: the hook is configured for that one)."""
    if not isinstance(event, Mapping):
        raise EventError("event is not a JSON object")
    if event.get("executionDetails") is not None and not isinstance(event["executionDetails"], Mapping):
        raise EventError("executionDetails is not an object")
    arns = {name: field_of(event, name) for name in ("serviceArn", "targetServiceRevisionArn")}
    for name, value in arns.items():
        if not isinstance(value, str) or not value:
            raise EventError(f"event has no {name}")
    for name in ("testTrafficWeights", "productionTrafficWeights"):
        if field_of(event, name) is not None and not isinstance(field_of(event, name), Mapping):
            raise EventError(f"{name} is not an object")
    stage = field_of(event, "lifecycleStage")
    if stage is not None and stage != HOOK_STAGE:
        raise EventError(f"invoked at lifecycle stage {str(stage)[:40]!r}; this hook runs at {HOOK_STAGE} only")
    details = field_of(event, "hookDetails")
    details = {} if details is None else details
    if not isinstance(details, Mapping):
        raise EventError("hookDetails is not an object")
    attempt = details.get(ATTEMPT_KEY, 0)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
        raise EventError(f"hookDetails.{ATTEMPT_KEY} is not a non-negative integer")
    return Invocation(arns["serviceArn"], arns["targetServiceRevisionArn"], stage, dict(details), attempt)
