"""cdk-nag wiring: the rule pack every app runs, and a one-line way to acknowledge a finding where it occurs."""

from __future__ import annotations

import json
from collections.abc import Callable

from aws_cdk import Acknowledgment, Stack, Stage, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: Stage) -> None:
    """Run AwsSolutions over every stack of `app` and its nested stages; unacknowledged findings fail synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


#: Context switch for tests only: `false` records no acknowledgement, so a test can prove that every
#: acknowledgement answers a finding that really occurs (none is stale or broader than needed).
ACKNOWLEDGE_CONTEXT_KEY = "download-service:nag-acknowledgements"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding (e.g. ``AwsSolutions-IAM5[Resource::*]``) on the construct it is reported on."""
    if construct.node.try_get_context(ACKNOWLEDGE_CONTEXT_KEY) is False:
        return
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


# ---- IAM5, one finding at a time, for policies CDK writes for us (CDK Pipelines) ------------------


def _flatten(node: object) -> str:
    """cdk-nag's flattenCfnReference: how a resource appears in an IAM5 finding id."""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(_flatten(item) for item in items)
        if "Fn::Sub" in node:
            return _flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{_flatten(resource)}.{_flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return _flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{_flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def iam5_findings(policy: iam.CfnPolicy | iam.CfnRole) -> dict[str, list[str]]:
    """The AwsSolutions-IAM5 finding ids cdk-nag will report on `policy` (or a role's inline policies), each with
    the actions it concerns."""
    stack = Stack.of(policy)
    if isinstance(policy, iam.CfnRole):
        documents = [entry["policyDocument"] for entry in stack.resolve(policy.policies) or []]
    else:
        documents = [stack.resolve(policy.policy_document)]
    found: dict[str, list[str]] = {}
    for statement in (statement for document in documents for statement in document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        for action in actions:
            if "*" in action:
                found.setdefault(f"Action::{action}", []).append(action)
        for resource in map(_flatten, resources):
            if "*" in resource:
                found.setdefault(f"Resource::{resource}", []).extend(actions)
    return found


def acknowledge_wildcards(policy: iam.CfnPolicy | iam.CfnRole, reason: Callable[[str, list[str]], str]) -> None:
    """Acknowledge each IAM5 finding of `policy` on its own, with `reason(finding, actions)`. For policies that
    CDK generates (so their wildcards are only known once built); call it after the policy is complete."""
    for finding, actions in iam5_findings(policy).items():
        acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason(finding, sorted(set(actions))))
