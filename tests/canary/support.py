"""What the canary tests share besides fixtures: the names of the local targets, events, the stubbed rule."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field

from botocore.stub import ANY, Stubber

from canary.hook import HookConfig
from canary.target import Target
from stages.canary import CANARY_FILE, CANARY_KEY
from tests.canary.servers import FakeTestListener

BUCKET = "canary-files"
OTHER_KEY = "_canary/other-bytes.txt"
RULE_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/alb/50dc6c495c0c9188/f2f7/9683b2d0"
SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/cluster/download-service"
REVISION_ARN = "arn:aws:ecs:us-east-1:123456789012:service-revision/cluster/download-service/4980306466373577095"
CANARY_SHA256 = hashlib.sha256(CANARY_FILE.read_bytes()).hexdigest()


def canary_target(base_url: str, key: str = CANARY_KEY) -> Target:
    return Target(base_url, key, CANARY_SHA256, timeout=10)


def hook_config(base_url: str, key: str = CANARY_KEY, ready_wait_s: float = 2.0, **options) -> HookConfig:
    """The hook aimed at `base_url`, waiting at most `ready_wait_s` per invocation (production: 45 s)."""
    return HookConfig(canary_target(base_url, key), RULE_ARN, ready_wait_s, poll_interval_s=0.02, **options)


def lifecycle_event(**overrides) -> dict:
    """A POST_TEST_TRAFFIC_SHIFT payload in the shape of AWS's samples (the fields under executionDetails)."""
    details = {
        "serviceArn": SERVICE_ARN,
        "targetServiceRevisionArn": REVISION_ARN,
        "testTrafficWeights": {REVISION_ARN: 100},
        "productionTrafficWeights": {},
    }
    return {"executionDetails": details, "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT", **overrides}


@dataclass
class Rule:
    """The stubbed ELBv2 client and what it was asked: every ModifyRule's parameters, in order."""

    client: object
    stubber: Stubber
    calls: list[dict] = field(default_factory=list)
    listener: FakeTestListener | None = None

    def expect(self, count: int) -> None:
        for _ in range(count):
            self.stubber.add_response("modify_rule", {"Rules": []}, {"RuleArn": RULE_ARN, "Conditions": ANY})

    def record(self, params: dict, **_: object) -> None:
        self.calls.append(copy.deepcopy(params))
        if self.listener:
            self.listener.apply(params["Conditions"])


def log_lines(capsys) -> list[dict]:
    """The JSON lines printed so far."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
