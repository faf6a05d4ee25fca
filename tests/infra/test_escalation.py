"""Issue 18's findings as refusal tests, under the guardrails as `make bootstrap` installs them: the execution policies
rendered for the account (pipeline/guardrails.py) inside the execution role's boundary (deploy-boundary.json).

H1, the escape to account admin, step by step: a template creates a DownloadServicePipeline-* role without a
boundary (or changes one that has none), gives it any policy and trust, passes it to Lambda or CodeBuild, runs it.
M1-M4: another project's KMS keys, hosted zones, load balancers' web ACLs, and ECS, KMS or Synthetics resources
claimed by tagging them. Each refusal sits beside the allowance of the same call on our own resources, so a refusal
can only pass because of the condition it is named for. Both layouts: everything in one account (the shipped
cdk.json, all six execution policies on one role) and the pipeline in its own account."""

from __future__ import annotations

from typing import Any

import pytest

from stages.common.boundary import BOUNDARY_POLICY_NAME, PIPELINE_BOUNDARY_POLICY_NAME, policy_arn

from .conftest import three_accounts_context
from .iam_support import app_config, deploy_boundary, installed
from .policy_eval import Request, allowed

ONE = "123456789012"  # cdk.json: the pipeline and every stage
TOOLING, DEV = "111111111111", "222222222222"  # examples/three-accounts.json
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _guardrails(account: str) -> list[dict[str, Any]]:
    config = app_config() if account == ONE else app_config(three_accounts_context())
    return installed(account, config).execution_documents()


def _may(account: str, action: str, resource: str, **context: Any) -> bool:
    request = Request(action, resource, {"aws:PrincipalAccount": account, **context})
    return allowed(_guardrails(account), request, boundary=deploy_boundary())


def _role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def _bounded(account: str, boundary: str = PIPELINE_BOUNDARY_POLICY_NAME) -> dict[str, str]:
    return {"iam:PermissionsBoundary": policy_arn(boundary, account)}


# ---- H1: the pipeline's roles -------------------------------------------------------------------------------------

EVIL = "DownloadServicePipeline-Evil"

H1_REFUSED = [
    ("1 create a pipeline-named role without a boundary", "iam:CreateRole", {}),
    ("1 ... with the stage boundary instead of the pipeline's", "iam:CreateRole", "stage"),
    ("2 give an unbounded role an inline policy", "iam:PutRolePolicy", {}),
    ("2 ... or AdministratorAccess", "iam:AttachRolePolicy", {"iam:PolicyARN": ADMIN}),
    ("2 ... or AdministratorAccess while bounded", "iam:AttachRolePolicy", {"iam:PolicyARN": ADMIN, "bounded": 1}),
    ("3 rewrite an unbounded role's trust policy", "iam:UpdateAssumeRolePolicy", {}),
    (
        "4 swap the boundary for AdministratorAccess",
        "iam:PutRolePermissionsBoundary",
        {"iam:PermissionsBoundary": ADMIN},
    ),
    ("4 remove the boundary", "iam:DeleteRolePermissionsBoundary", {"bounded": 1}),
]


def _h1_context(account: str, extra: Any) -> dict[str, Any]:
    if extra == "stage":
        return _bounded(account, BOUNDARY_POLICY_NAME)
    context = {k: v for k, v in extra.items() if k != "bounded"}
    return {**(_bounded(account) if "bounded" in extra else {}), **context}


@pytest.mark.parametrize("account", [ONE, TOOLING])
@pytest.mark.parametrize(("step", "action", "extra"), H1_REFUSED, ids=[s for s, _, _ in H1_REFUSED])
def test_h1_every_step_to_an_unbounded_pipeline_role_is_refused(
    account: str, step: str, action: str, extra: Any
) -> None:
    assert not _may(account, action, _role(account, EVIL), **_h1_context(account, extra)), step


@pytest.mark.parametrize("account", [ONE, TOOLING])
def test_h1_what_the_template_can_still_do_runs_under_the_pipeline_boundary(account: str) -> None:
    """The pipeline stack must keep creating its roles, functions and projects: only with the pipeline boundary,
    whose cap tests/infra/test_boundaries.py proves (no IAM, no other roles, no other projects' builds...)."""
    role = _role(account, EVIL)
    for action in (
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePermissionsBoundary",
    ):
        assert _may(account, action, role, **_bounded(account)), action
    for service in ("lambda.amazonaws.com", "codebuild.amazonaws.com"):
        assert _may(account, "iam:PassRole", role, **{"iam:PassedToService": service})
    assert not _may(account, "iam:PassRole", role, **{"iam:PassedToService": "ec2.amazonaws.com"})
    function = f"arn:aws:lambda:eu-west-1:{account}:function:{EVIL}"
    assert _may(account, "lambda:CreateFunction", function)
    assert _may(account, "lambda:InvokeFunction", function)
    other = f"arn:aws:lambda:eu-west-1:{account}:function:payroll"
    assert not _may(account, "lambda:InvokeFunction", other)


@pytest.mark.parametrize("account", [ONE, DEV])
def test_h1_the_stage_roles_need_the_stage_boundary_too(account: str) -> None:
    """`make deploy-sandbox` deploys with the same execution role: a stage-named role is held the same way."""
    role = _role(account, "Sandbox-Stateless-Evil")
    assert not _may(account, "iam:CreateRole", role)
    assert not _may(account, "iam:CreateRole", role, **_bounded(account))  # the pipeline's boundary is not the stage's
    assert _may(account, "iam:CreateRole", role, **_bounded(account, BOUNDARY_POLICY_NAME))
    assert not _may(account, "iam:PutRolePolicy", role)


# ---- M1-M4: other projects' resources in the same account ---------------------------------------------------------

KEY = f"arn:aws:kms:eu-west-1:{ONE}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
OURS = {"aws:ResourceTag/service": "download-service"}
CLAIM = {"aws:RequestTag/service": "download-service", "aws:TagKeys": ["service"]}
ZONE_ID, DOMAIN = installed(ONE).zones[0]


def _records(*names: str, kind: str = "A") -> dict[str, Any]:
    return {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": list(names),
        "route53:ChangeResourceRecordSetsRecordTypes": [kind],
    }


ECS = f"arn:aws:ecs:eu-west-1:{ONE}"
M_REFUSED = [
    *[
        (f"M1 kms:{a} on another key", f"kms:{a}", KEY, {})
        for a in ("PutKeyPolicy", "ScheduleKeyDeletion", "DisableKey")
    ],
    ("M1 kms:TagResource on another key", "kms:TagResource", KEY, CLAIM),
    ("M1 ... even one tagged as ours", "kms:PutKeyPolicy", KEY, OURS),
    ("M2 records in another zone", "route53:ChangeResourceRecordSets", "hostedzone/Z0OTHER", _records(DOMAIN)),
    ("M2 the zone's apex", "route53:ChangeResourceRecordSets", f"hostedzone/{ZONE_ID}", _records("example.com")),
    (
        "M2 another name in the zone",
        "route53:ChangeResourceRecordSets",
        f"hostedzone/{ZONE_ID}",
        _records("mail.example.com"),
    ),
    (
        "M2 one of ours and one not",
        "route53:ChangeResourceRecordSets",
        f"hostedzone/{ZONE_ID}",
        _records(DOMAIN, "www.example.com"),
    ),
    (
        "M2 our name, an MX record",
        "route53:ChangeResourceRecordSets",
        f"hostedzone/{ZONE_ID}",
        _records(DOMAIN, kind="MX"),
    ),
    *[
        (f"M3 wafv2:{a} on another load balancer", f"wafv2:{a}", "loadbalancer/app/shop/50dc6c495c0c9188", {})
        for a in ("AssociateWebACL", "DisassociateWebACL")
    ],
    ("M4 claim another ECS service by tagging it", "ecs:TagResource", f"{ECS}:service/shop/web", CLAIM),
    ("M4 claim another cluster by tagging it", "ecs:TagResource", f"{ECS}:cluster/shop", CLAIM),
    ("M4 update another ECS service", "ecs:UpdateService", f"{ECS}:service/shop/web", {}),
    ("M4 a service in another cluster", "ecs:CreateService", f"{ECS}:service/shop/evil", CLAIM),
    ("M4 another service's deployments", "ecs:StopServiceDeployment", f"{ECS}:service-deployment/shop/web/1", {}),
    ("M4 claim another canary", "synthetics:TagResource", f"arn:aws:synthetics:eu-west-1:{ONE}:canary:shop", CLAIM),
    ("M4 delete another canary", "synthetics:DeleteCanary", f"arn:aws:synthetics:eu-west-1:{ONE}:canary:shop", OURS),
    (
        "M4 another canary's code",
        "lambda:UpdateFunctionCode",
        f"arn:aws:lambda:eu-west-1:{ONE}:function:cwsyn-shop-1",
        {},
    ),
]
M_ALLOWED = [
    ("M2 our record", "route53:ChangeResourceRecordSets", f"hostedzone/{ZONE_ID}", _records(DOMAIN)),
    (
        "M2 our validation record",
        "route53:ChangeResourceRecordSets",
        f"hostedzone/{ZONE_ID}",
        _records(f"_a1.{DOMAIN}", kind="CNAME"),
    ),
    ("M3 our load balancer", "wafv2:AssociateWebACL", "loadbalancer/app/download-service-prod/50dc6c495c0c9188", {}),
    (
        "M4 tag on create",
        "ecs:TagResource",
        f"{ECS}:service/Prod-Stateless-Cluster-X/web",
        {"ecs:CreateAction": "CreateService"},
    ),
    ("M4 our service in our cluster", "ecs:CreateService", f"{ECS}:service/Prod-Stateless-Cluster-X/web", CLAIM),
    (
        "M4 our untagged deployments",
        "ecs:DescribeServiceDeployments",
        f"{ECS}:service-deployment/Prod-Stateless-C/w/1",
        {},
    ),
    ("M4 our canary", "synthetics:UpdateCanary", f"arn:aws:synthetics:eu-west-1:{ONE}:canary:dlsvc-prod", {}),
]


def _arn(resource: str) -> str:
    if resource.startswith("hostedzone/"):
        return f"arn:aws:route53:::{resource}"
    if resource.startswith("loadbalancer/"):
        return f"arn:aws:elasticloadbalancing:eu-west-1:{ONE}:{resource}"
    return resource


@pytest.mark.parametrize(("why", "action", "resource", "extra"), M_REFUSED, ids=[w for w, *_ in M_REFUSED])
def test_m1_to_m4_are_refused(why: str, action: str, resource: str, extra: dict[str, Any]) -> None:
    assert not _may(ONE, action, _arn(resource), **extra), why


@pytest.mark.parametrize(("why", "action", "resource", "extra"), M_ALLOWED, ids=[w for w, *_ in M_ALLOWED])
def test_the_same_calls_on_our_resources_are_allowed(
    why: str, action: str, resource: str, extra: dict[str, Any]
) -> None:
    assert _may(ONE, action, _arn(resource), **extra), why


def test_an_account_without_a_domain_gets_no_route53_write_at_all() -> None:
    """examples/three-accounts.json: only prod has a domain; the dev account's policies name no zone."""
    record = _records("download.example.com")
    assert not _may(DEV, "route53:ChangeResourceRecordSets", f"arn:aws:route53:::hostedzone/{ZONE_ID}", **record)
    assert "route53:ChangeResourceRecordSets" not in str(_guardrails(DEV))


@pytest.mark.parametrize("account", [ONE, TOOLING, DEV])
def test_the_execution_roles_boundary_lets_no_other_role_be_passed(account: str) -> None:
    """Passing an existing role to a new function is the other way to run code as it: the boundary refuses every
    role but ours, even with AdministratorAccess beside the execution policies."""
    administrator = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    for role, expected in (
        ("OrganizationAccountAccessRole", False),
        (f"cdk-hnb659fds-cfn-exec-role-{account}-eu-west-1", False),
        ("Prod-Stateless-ServiceTaskTaskRole-X", True),
        (EVIL, True),
    ):
        request = Request("iam:PassRole", _role(account, role), {"aws:PrincipalAccount": account})
        assert allowed(administrator, request, boundary=deploy_boundary()) is expected, role
