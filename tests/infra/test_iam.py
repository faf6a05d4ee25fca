"""The permissions boundary (pipeline/permissions-boundary.json): every stage role carries it, it allows what each
role does at run time, and it refuses what a role would need to escalate, even with AdministratorAccess attached."""

from __future__ import annotations

import re

import pytest

from pipeline.guardrails import STAGE_BOUNDARY
from stages.common.boundary import BOUNDARY_POLICY_NAME, boundary_arn

from .conftest import Synth
from .iam_support import BOUNDARY_FILE, boundary, installed, roles, runtime_requests, stage_stacks
from .policy_eval import Decision, Request, allowed, evaluate

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
ADMINISTRATOR_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
FILES = "arn:aws:s3:::download-service-dev-files-123456789012-eu-west-1"
OURS = {"aws:ResourceTag/service": "download-service"}


def _context(**extra: str) -> dict[str, str]:
    return {"aws:PrincipalAccount": ACCOUNT, **extra}


def test_every_role_of_every_stage_carries_the_boundary(synth: Synth) -> None:
    checked = []
    for stack in stage_stacks(synth):
        for role_id in roles(stack):
            boundary_of_role = stack.resources[role_id]["Properties"].get("PermissionsBoundary")
            assert boundary_of_role == boundary_arn(stack.account), f"{stack.name}/{role_id}"
            checked.append(f"{stack.name}/{role_id}")
    stage_names = {stage.stateless.stack_name.split("-")[0] for stage in synth.built.stages.values()}
    assert stage_names == {"Dev", "Prod", "Sandbox"}
    assert len(checked) >= 30  # ten in each stateless stack, the auto-delete providers in the stateful ones
    # CDK's custom resource providers write their role as a raw CfnResource; the Stage's boundary reaches them too
    for provider in ("CustomS3AutoDeleteObjects", "CustomVpcRestrictDefaultSG", "AWS679f53fac002430cb0da5b7982bd2287"):
        assert any(f"/{provider}" in role for role in checked), provider


def test_the_boundary_arn_is_the_policy_make_bootstrap_creates_from_the_boundary_file() -> None:
    assert boundary_arn("111111111111", "aws-cn") == f"arn:aws-cn:iam::111111111111:policy/{BOUNDARY_POLICY_NAME}"
    assert (STAGE_BOUNDARY.name, STAGE_BOUNDARY.path) == (BOUNDARY_POLICY_NAME, BOUNDARY_FILE)
    assert STAGE_BOUNDARY in installed().boundaries


def test_the_boundary_allows_what_every_stage_role_does(synth: Synth) -> None:
    """Each role's own statements and AWS managed policies, as requests on the stack's concrete resources."""
    document, count = boundary(), 0
    for stack in stage_stacks(synth):
        for role_id in roles(stack):
            for request in runtime_requests(stack, role_id):
                assert evaluate([document], request) is Decision.ALLOW, (stack.name, role_id, request)
                count += 1
    assert count > 100


@pytest.mark.parametrize(
    ("why", "request_"),
    [
        ("no IAM users", Request("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/backdoor", _context())),
        ("no access keys", Request("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/x", _context())),
        (
            "no policy changes",
            Request("iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/Dev-Stateless-x", _context()),
        ),
        ("no passing roles on", Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Dev-Stateless-x", _context())),
        ("no role chaining", Request("sts:AssumeRole", f"arn:aws:iam::{OTHER_ACCOUNT}:role/admin", _context())),
        ("no leaving the org", Request("organizations:LeaveOrganization", "*", _context())),
        ("other buckets stay closed", Request("s3:GetObject", "arn:aws:s3:::payroll/2026.csv", _context())),
        (
            "no copying out to a look-alike bucket in another account",
            Request(
                "s3:PutObject",
                "arn:aws:s3:::download-service-exfil/files.tar",
                _context(**{"aws:ResourceAccount": OTHER_ACCOUNT}),
            ),
        ),
        ("no deleting the files bucket", Request("s3:DeleteBucket", FILES, _context())),
        ("no bucket ACLs", Request("s3:PutBucketAcl", FILES, _context())),
        (
            "no other functions",
            Request("lambda:InvokeFunction", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:x", _context()),
        ),
        (
            "no other load balancers' rules",
            Request(
                "elasticloadbalancing:ModifyRule",
                f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:listener-rule/app/shop/1/2/3",
                _context(**{"aws:ResourceTag/service": "shop"}),
            ),
        ),
        ("no instances", Request("ec2:RunInstances", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/*", _context())),
        (
            "no secrets",
            Request(
                "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:x", _context()
            ),
        ),
        ("no decrypting", Request("kms:Decrypt", f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/x", _context(**OURS))),
        (
            "no other metric namespaces",
            Request("cloudwatch:PutMetricData", "*", _context(**{"cloudwatch:namespace": "AWS/EC2"})),
        ),
        (
            "no opening another account's security group",
            Request(
                "ec2:AuthorizeSecurityGroupIngress",
                f"arn:aws:ec2:eu-west-1:{OTHER_ACCOUNT}:security-group/sg-1",
                _context(**{"aws:ResourceAccount": OTHER_ACCOUNT}),
            ),
        ),
        (
            "no other images",
            Request("ecr:BatchGetImage", f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/other", _context()),
        ),
        (
            "no reading other logs",
            Request("logs:GetLogEvents", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:x", _context()),
        ),
    ],
)
def test_the_boundary_caps_even_administrator_access(why: str, request_: Request) -> None:
    """A template that attached AdministratorAccess to a stage role (the execution policy refuses that too) would
    still get none of this: the boundary is what the role can at most do."""
    assert allowed([ADMINISTRATOR_ACCESS], request_), "the identity policy allows it..."
    assert not allowed([ADMINISTRATOR_ACCESS], request_, boundary=boundary()), why


def test_the_boundary_denies_identity_changes_explicitly() -> None:
    """Not only absent from the allow list: an explicit deny, so widening an Allow later cannot reopen them."""
    document = boundary()
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "sts:AssumeRole", "organizations:CreateAccount"):
        request = Request(action, f"arn:aws:iam::{ACCOUNT}:role/x", _context())
        assert evaluate([document], request) is Decision.EXPLICIT_DENY, action


def test_the_boundary_uses_no_partition_or_account_literal() -> None:
    """One document for every account and partition: `arn:*:`, `*` or `${aws:PrincipalAccount}`, never a number."""
    text = BOUNDARY_FILE.read_text()
    assert "arn:aws:" not in text
    assert not re.search(r"\d{12}", text)
