"""Shared by the IAM tests: the policy documents in pipeline/, every stage stack as `StackArns`, and what each stage
role does at run time, as `policy_eval.Request`s built from the synthesized templates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app import AppConfig, load
from pipeline import guardrails
from stages.config import CONTEXT_KEY

from .conftest import Synth, cdk_json_context
from .policy_eval import Request
from .template_arns import SUFFIX, StackArns

PIPELINE_DIR = guardrails.POLICY_DIR
BOUNDARY_FILE = guardrails.STAGE_BOUNDARY.path
#: `cdk bootstrap --cloudformation-execution-policies` of a stage account: these four, one managed policy each.
EXECUTION_POLICY_FILES = tuple(g.path for g in guardrails.STAGE_EXECUTION)
#: The pipeline's own account (the tooling account): these two.
PIPELINE_POLICY_FILES = tuple(g.path for g in guardrails.PIPELINE_EXECUTION)


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def app_config(context: dict[str, Any] | None = None) -> AppConfig:
    """cdk.json's configuration (or the given context's)."""
    return load((context or cdk_json_context())[CONTEXT_KEY])


def installed(account: str | None = None, config: AppConfig | None = None) -> guardrails.AccountGuardrails:
    """The guardrails `make bootstrap` installs in `account` (default: the pipeline's account of cdk.json)."""
    config = config or app_config()
    pipeline_account = config.pipeline.account if config.pipeline else None
    return guardrails.for_account(account or pipeline_account, config.stages.values(), pipeline_account)


def execution_policies(account: str | None = None, config: AppConfig | None = None) -> list[dict[str, Any]]:
    """The five stage execution policies as installed in `account` (default: cdk.json's one account)."""
    found = installed(account, config)
    return [found.document(g) for g in guardrails.STAGE_EXECUTION]


def pipeline_policies() -> list[dict[str, Any]]:
    found = installed()
    return [found.document(g) for g in guardrails.PIPELINE_EXECUTION]


def boundary() -> dict[str, Any]:
    return load_json(guardrails.STAGE_BOUNDARY.path)


def pipeline_boundary() -> dict[str, Any]:
    return load_json(guardrails.PIPELINE_BOUNDARY.path)


def deploy_boundary() -> dict[str, Any]:
    """The CloudFormation execution role's boundary (`cdk bootstrap --custom-permissions-boundary`)."""
    return load_json(guardrails.DEPLOY_BOUNDARY.path)


def stage_stacks(synth: Synth) -> Iterator[StackArns]:
    """Every stack of every stage (Dev-*, Prod-*, Sandbox-*...), with its stage's account and region."""
    templates = synth.templates()
    for stage in synth.built.stages.values():
        for stack in (stage.stateful, stage.stateless):
            yield StackArns(stack.stack_name, stage.config.account, stage.config.region, templates[stack.stack_name])


def roles(stack: StackArns) -> list[str]:
    return [lid for lid, r in stack.resources.items() if r["Type"] == "AWS::IAM::Role"]


def context(stack: StackArns, resource: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """The request context IAM would see for a call by one of the stack's roles on `resource`."""
    found: dict[str, Any] = {"aws:PrincipalAccount": stack.account}
    if resource != "*":
        arn_account = resource.split(":")[4]
        found["aws:ResourceAccount"] = arn_account or stack.account  # S3 ARNs carry no account: the stage owns them
        logical_id = stack.logical_id_of(resource)
        if logical_id:
            found.update({f"aws:ResourceTag/{k}": v for k, v in stack.tags(logical_id).items()})
    return {**found, **(extra or {})}


def _concrete(resource: str) -> str:
    """A request names one resource: a policy's trailing wildcard (`bucket/*`, `log-group:x:*`) becomes one."""
    return resource.removesuffix("*") + "example" if resource.endswith("*") and resource != "*" else resource


def _statements_of(stack: StackArns, role_id: str) -> list[dict[str, Any]]:
    role = stack.resources[role_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    documents += [
        r["Properties"]["PolicyDocument"]
        for r in stack.resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"].get("Roles", [])
    ]
    return [s for d in documents for s in stack.resolve(d["Statement"])]


def _log_groups_of(stack: StackArns, role_id: str) -> list[str]:
    """The log groups a role's function or canary writes to (what AWSLambdaBasicExecutionRole's `*` is used on)."""
    groups = []
    for logical_id, resource in stack.resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and props.get("Role") == {"Fn::GetAtt": [role_id, "Arn"]}:
            configured = props.get("LoggingConfig", {}).get("LogGroup")
            name = stack.resolve(configured) if configured else f"/aws/lambda/{stack.physical_name(logical_id)}"
            groups.append(name)
        if resource["Type"] == "AWS::Synthetics::Canary" and props.get("ExecutionRoleArn") == {
            "Fn::GetAtt": [role_id, "Arn"]
        }:
            groups.append(f"/aws/lambda/cwsyn-{props['Name']}-{SUFFIX.lower()}")
    return [stack.arn("logs", f"log-group:{g}") for g in groups]


def _load_balancer_calls(stack: StackArns, role_id: str) -> list[Request]:
    """What ECS does with an AmazonECSInfrastructureRolePolicyForLoadBalancers role during a release: read the
    listeners, shift the production and test rules' weights, move tasks between the two target groups."""
    calls = [
        Request(f"elasticloadbalancing:{a}", "*", context(stack, "*"))
        for a in ("DescribeListeners", "DescribeRules", "DescribeTargetGroups", "DescribeTargetHealth")
    ]
    for resource in stack.resources.values():
        if resource["Type"] != "AWS::ECS::Service":
            continue
        for target in resource["Properties"].get("LoadBalancers", []):
            advanced = target.get("AdvancedConfiguration", {})
            if advanced.get("RoleArn") != {"Fn::GetAtt": [role_id, "Arn"]}:
                continue
            for key, actions in (
                ("ProductionListenerRule", ["ModifyRule"]),
                ("TestListenerRule", ["ModifyRule"]),
                ("AlternateTargetGroupArn", ["RegisterTargets", "DeregisterTargets"]),
            ):
                arn = stack.resolve(advanced[key])
                calls += [Request(f"elasticloadbalancing:{a}", arn, context(stack, arn)) for a in actions]
            arn = stack.resolve(target["TargetGroupArn"])
            calls += [
                Request(f"elasticloadbalancing:{a}", arn, context(stack, arn))
                for a in ("RegisterTargets", "DeregisterTargets")
            ]
    return calls


def _managed_calls(stack: StackArns, role_id: str, policy_arn: str) -> list[Request]:
    name = policy_arn.rsplit("/", 1)[-1]
    if name == "AWSLambdaBasicExecutionRole":
        return [
            Request(
                action, _concrete(group + ":*") if action != "logs:CreateLogGroup" else group, context(stack, group)
            )
            for group in _log_groups_of(stack, role_id)
            for action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
        ]
    if name == "AmazonECSInfrastructureRolePolicyForLoadBalancers":
        return _load_balancer_calls(stack, role_id)
    raise ValueError(f"{stack.name}/{role_id}: what does {name} do at run time? Add it to iam_support.py")


#: CDK Pipelines lets the self-mutation project assume "the bootstrap roles" by their tag (any role of the account
#: tagged aws-cdk:bootstrap-role=<value>): the roles that tag names, by the bootstrap template's role names.
BOOTSTRAP_ROLE_TAG = "iam:ResourceTag/aws-cdk:bootstrap-role"


def _bootstrap_roles(stack: StackArns, resource: str, statement: dict[str, Any]) -> list[str] | None:
    values = statement.get("Condition", {}).get("ForAnyValue:StringEquals", {}).get(BOOTSTRAP_ROLE_TAG)
    if values is None:
        return None
    account = resource.split(":")[4]
    return [
        f"arn:{stack.partition}:iam::{account}:role/cdk-hnb659fds-{value}-role-{account}-{stack.region}"
        for value in values
    ]


def runtime_requests(stack: StackArns, role_id: str, *, action_patterns: bool = False) -> list[Request]:
    """Every call the role's policies exist for, on the concrete resources of this stack. A wildcard action
    (`s3:GetObject*`, as CDK grants them) raises, unless `action_patterns`: then the request names the pattern itself,
    which a policy allows only if one of its own patterns covers it (`s3:Get*` does, `s3:GetObjectAcl` does not)."""
    requests = []
    for statement in _statements_of(stack, role_id):
        if statement["Effect"] != "Allow":
            continue
        extra = {k: str(v) for k, v in statement.get("Condition", {}).get("StringEquals", {}).items()}
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            if "*" in action and not action_patterns:
                raise ValueError(f"{stack.name}/{role_id}: expand {action} into the calls it stands for")
            for resource in resources:
                if resource == "*" and action.startswith("logs:"):
                    targets = _log_groups_of(stack, role_id)
                else:
                    targets = _bootstrap_roles(stack, resource, statement) or [_concrete(resource)]
                requests += [Request(action, t, context(stack, t, extra)) for t in targets]
    for policy_arn in stack.resolve(stack.resources[role_id]["Properties"].get("ManagedPolicyArns", [])):
        requests += _managed_calls(stack, role_id, policy_arn)
    return requests
