"""Every role of every synthesized template carries a permissions boundary (issue 18, "every role bounded"): the stage
roles the stage boundary of their account, the pipeline's roles the pipeline boundary; the pipeline boundary allows
what each pipeline role does and caps even AdministratorAccess below what an escalation needs."""

from __future__ import annotations

from typing import Any

import pytest

from stages.common.boundary import BOUNDARY_POLICY_NAME, PIPELINE_BOUNDARY_POLICY_NAME, policy_arn

from .conftest import Synth
from .iam_support import pipeline_boundary, roles, runtime_requests
from .policy_eval import Decision, Request, allowed, evaluate
from .template_arns import StackArns

TOOLING, DEV, PROD = "111111111111", "222222222222", "333333333333"
ADMINISTRATOR_ACCESS = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _stacks(synth: Synth) -> list[StackArns]:
    """Every stack of the app, the pipeline's included, with the account and region it deploys to."""
    stacks = [
        (stack.stack_name, stack.account, stack.region)
        for stage in synth.built.stages.values()
        for stack in (stage.stateful, stage.stateless)
    ]
    if synth.built.pipeline is not None:
        pipeline = synth.built.pipeline
        stacks.append((pipeline.stack_name, pipeline.account, pipeline.region))
    templates = synth.templates()
    return [StackArns(name, account, region, templates[name]) for name, account, region in stacks]


def _expected_boundary(synth: Synth, stack: StackArns) -> str:
    is_pipeline = synth.built.pipeline is not None and stack.name == synth.built.pipeline.stack_name
    return policy_arn(PIPELINE_BOUNDARY_POLICY_NAME if is_pipeline else BOUNDARY_POLICY_NAME, stack.account)


@pytest.mark.parametrize("layout", ["synth", "three_accounts"])
def test_every_role_in_every_template_carries_its_boundary(layout: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(layout)
    stacks = _stacks(synth)
    assert len(stacks) == len(synth.templates()), "every synthesized template is checked"
    checked: dict[str, int] = {}
    for stack in stacks:
        for role_id in roles(stack):
            found = stack.resources[role_id]["Properties"].get("PermissionsBoundary")
            assert found == _expected_boundary(synth, stack), f"{stack.name}/{role_id}"
            checked[stack.name] = checked.get(stack.name, 0) + 1
    assert checked.get("DownloadServicePipeline", 0) >= 13  # the pipeline's, the asset and build roles included
    assert {name.split("-")[0] for name in checked} >= {"Dev", "Prod", "Sandbox", "DownloadServicePipeline"}


def _pipeline_stack(synth: Synth) -> StackArns:
    pipeline = synth.built.pipeline
    return StackArns(pipeline.stack_name, pipeline.account, pipeline.region, synth.templates()[pipeline.stack_name])


@pytest.mark.parametrize("layout", ["synth", "three_accounts"])
def test_the_pipeline_boundary_allows_what_each_pipeline_role_does(layout: str, request: pytest.FixtureRequest) -> None:
    """Each pipeline role's own statements (CDK's wildcard actions as patterns) and AWS managed policies, on the
    stack's concrete resources: the boundary must not break the pipeline it caps."""
    stack = _pipeline_stack(request.getfixturevalue(layout))
    document, count = pipeline_boundary(), 0
    for role_id in roles(stack):
        for call in runtime_requests(stack, role_id, action_patterns=True):
            assert evaluate([document], call) is Decision.ALLOW, (role_id, call)
            count += 1
    assert count > 100


def _r(action: str, resource: str = "*", **context: Any) -> Request:
    return Request(action, resource, {"aws:PrincipalAccount": TOOLING, **context})


#: What a role under the pipeline boundary cannot do, whatever policy a template gives it (H1's last step: a role
#: the execution policies let a template create, with AdministratorAccess as its own policy).
CAPPED = [
    ("a new role", _r("iam:CreateRole", f"arn:aws:iam::{TOOLING}:role/DownloadServicePipeline-More")),
    ("a policy on itself", _r("iam:PutRolePolicy", f"arn:aws:iam::{TOOLING}:role/DownloadServicePipeline-Evil")),
    ("users", _r("iam:CreateUser", f"arn:aws:iam::{TOOLING}:user/backdoor")),
    ("access keys", _r("iam:CreateAccessKey", f"arn:aws:iam::{TOOLING}:user/admin")),
    ("passing roles", _r("iam:PassRole", f"arn:aws:iam::{TOOLING}:role/Admin")),
    ("the organization's admin role", _r("sts:AssumeRole", f"arn:aws:iam::{PROD}:role/OrganizationAccountAccessRole")),
    ("the execution role", _r("sts:AssumeRole", f"arn:aws:iam::{PROD}:role/cdk-hnb659fds-cfn-exec-role-{PROD}-x")),
    ("the lookup role (ReadOnlyAccess)", _r("sts:AssumeRole", f"arn:aws:iam::{PROD}:role/cdk-hnb659fds-lookup-role-x")),
    ("leaving the organization", _r("organizations:LeaveOrganization")),
    ("another project's builds", _r("codebuild:StartBuild", f"arn:aws:codebuild:eu-west-1:{TOOLING}:project/payroll")),
    ("other buckets", _r("s3:GetObject", "arn:aws:s3:::payroll/2026.csv")),
    ("the files bucket", _r("s3:GetObject", f"arn:aws:s3:::download-service-prod-files-{PROD}-eu-west-1/x")),
    ("secrets", _r("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{TOOLING}:secret:x")),
    ("instances", _r("ec2:RunInstances", f"arn:aws:ec2:eu-west-1:{TOOLING}:instance/*")),
    ("functions", _r("lambda:UpdateFunctionCode", f"arn:aws:lambda:eu-west-1:{TOOLING}:function:payroll")),
    ("another account's keys", _r("kms:Decrypt", f"arn:aws:kms:eu-west-1:{PROD}:key/1234")),
    ("other topics", _r("sns:Publish", f"arn:aws:sns:eu-west-1:{TOOLING}:payroll")),
]


@pytest.mark.parametrize(("why", "request_"), CAPPED, ids=[why for why, _ in CAPPED])
def test_the_pipeline_boundary_caps_even_administrator_access(why: str, request_: Request) -> None:
    assert allowed([ADMINISTRATOR_ACCESS], request_), "the identity policy allows it..."
    assert not allowed([ADMINISTRATOR_ACCESS], request_, boundary=pipeline_boundary()), why


def test_the_pipeline_boundary_denies_identity_changes_and_other_roles_explicitly() -> None:
    """Explicit denies: widening its allow statements later cannot reopen them."""
    for request in (
        _r("iam:CreateRole", f"arn:aws:iam::{TOOLING}:role/x"),
        _r("iam:AttachRolePolicy", f"arn:aws:iam::{TOOLING}:role/DownloadServicePipeline-x"),
        _r("sts:AssumeRole", f"arn:aws:iam::{PROD}:role/OrganizationAccountAccessRole"),
        _r("organizations:CreateAccount"),
    ):
        assert evaluate([pipeline_boundary()], request) is Decision.EXPLICIT_DENY, request
