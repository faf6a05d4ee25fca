"""The CloudFormation execution policies of a stage account (pipeline/deploy*-policy.json, rendered for cdk.json's
account by pipeline/guardrails.py): they cover what CloudFormation calls for every resource and intrinsic in the stage
templates, and, inside the execution role's boundary (pipeline/deploy-boundary.json), refuse the rest."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stages.common.boundary import boundary_arn

from .cfn_permissions import uncovered
from .conftest import Synth
from .iam_support import EXECUTION_POLICY_FILES, deploy_boundary, execution_policies, installed, roles, stage_stacks
from .policy_eval import Decision, Request, allowed, evaluate

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Dev-Stateless-ServiceTaskTaskRole-EXAMPLE"
BOUNDARY = boundary_arn(ACCOUNT)
OURS = {"aws:ResourceTag/service": "download-service"}


def _context(**extra: Any) -> dict[str, Any]:
    return {"aws:PrincipalAccount": ACCOUNT, **extra}


def test_every_permission_cloudformation_needs_for_the_stage_resources_is_allowed(synth: Synth) -> None:
    types = {r["Type"] for stack in stage_stacks(synth) for r in stack.resources.values()}
    assert uncovered(types, execution_policies()) == {}


def test_custom_resources_can_invoke_exactly_their_providers(synth: Synth) -> None:
    documents, count = execution_policies(), 0
    for stack in stage_stacks(synth):
        for logical_id, resource in stack.resources.items():
            if resource["Type"].startswith("Custom::"):
                function = stack.resolve(resource["Properties"]["ServiceToken"])
                request = Request("lambda:InvokeFunction", function, {"aws:PrincipalAccount": stack.account})
                assert allowed(documents, request), f"{stack.name}/{logical_id}"
                count += 1
    assert count >= 3 * 3  # canary writer, restrict-default-SG, auto-delete: in every stage
    other = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:payroll-export"
    assert not allowed(documents, Request("lambda:InvokeFunction", other, _context()))


def _intrinsics(node: Any, name: str) -> list[Any]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == name] + [x for v in node.values() for x in _intrinsics(v, name)]
    if isinstance(node, list):
        return [x for v in node for x in _intrinsics(v, name)]
    return []


def test_what_the_templates_intrinsics_and_parameters_read_is_allowed(synth: Synth) -> None:
    """Fn::GetStackOutput (the stateless stack reads the stateful stack's log bucket) needs
    cloudformation:DescribeStacks on that stack; SSM parameter types (the bootstrap version) ssm:GetParameters;
    Fn::GetAZs ec2:DescribeAvailabilityZones. CloudFormation calls them with the execution role."""
    documents, outputs = execution_policies(), 0
    for stack in stage_stacks(synth):
        context = {"aws:PrincipalAccount": stack.account}
        for reference in _intrinsics(stack.template, "Fn::GetStackOutput"):
            arn = stack.arn("cloudformation", f"stack/{reference['StackName']}/0a1b2c3d").replace(
                f":{stack.region}:", f":{reference.get('Region', stack.region)}:"
            )
            assert allowed(documents, Request("cloudformation:DescribeStacks", arn, context)), arn
            outputs += 1
        for parameter in stack.template.get("Parameters", {}).values():
            if parameter["Type"].startswith("AWS::SSM::Parameter::Value"):
                arn = stack.arn("ssm", f"parameter{parameter['Default']}")
                assert allowed(documents, Request("ssm:GetParameters", arn, context)), arn
        if _intrinsics(stack.template, "Fn::GetAZs"):
            assert allowed(documents, Request("ec2:DescribeAvailabilityZones", "*", context))
    assert outputs >= 3  # every stateless stack reads its stateful stack's log bucket
    other_stack = f"arn:aws:cloudformation:eu-west-1:{ACCOUNT}:stack/Payroll/0a1b"
    assert not allowed(documents, Request("cloudformation:DescribeStacks", other_stack, _context()))


#: Where the stage templates pass a role, and the service it is passed to.
PASSED_TO = {
    ("AWS::ECS::TaskDefinition", "TaskRoleArn"): "ecs-tasks.amazonaws.com",
    ("AWS::ECS::TaskDefinition", "ExecutionRoleArn"): "ecs-tasks.amazonaws.com",
    ("AWS::ECS::Service", "RoleArn"): "ecs.amazonaws.com",  # the ALB role and the release hook invoker
    ("AWS::Lambda::Function", "Role"): "lambda.amazonaws.com",
    ("AWS::Synthetics::Canary", "ExecutionRoleArn"): "synthetics.amazonaws.com",
    ("AWS::EC2::FlowLog", "DeliverLogsPermissionArn"): "vpc-flow-logs.amazonaws.com",
}


def _role_references(node: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        if list(node) == ["Fn::GetAtt"] and node["Fn::GetAtt"][1] == "Arn":
            return [(key, node["Fn::GetAtt"][0])]
        # A resource policy names roles as principals: that grants them access, it passes nothing.
        return [ref for k, v in node.items() if k != "PolicyDocument" for ref in _role_references(v, k)]
    if isinstance(node, list):
        return [ref for v in node for ref in _role_references(v, key)]
    return []


def test_every_role_the_templates_pass_may_be_passed_to_its_service_only(synth: Synth) -> None:
    documents, passed = execution_policies(), set()
    for stack in stage_stacks(synth):
        role_ids = set(roles(stack))
        for resource in stack.resources.values():
            if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy"):
                continue
            for key, logical_id in _role_references(resource.get("Properties", {})):
                if logical_id not in role_ids:
                    continue
                service = PASSED_TO.get((resource["Type"], key))
                assert service, f"{stack.name}: {resource['Type']}.{key} passes a role: to which service?"
                arn = stack.get_att(logical_id, "Arn")
                context = {"aws:PrincipalAccount": stack.account, "iam:PassedToService": service}
                assert allowed(documents, Request("iam:PassRole", arn, context), boundary=deploy_boundary()), arn
                to_ec2 = {**context, "iam:PassedToService": "ec2.amazonaws.com"}
                assert not allowed(documents, Request("iam:PassRole", arn, to_ec2))
                passed.add((resource["Type"], key))
    assert passed == set(PASSED_TO)


def test_every_stage_role_may_be_created_with_the_boundary_only(synth: Synth) -> None:
    documents = execution_policies()
    for stack in stage_stacks(synth):
        bounded = {"aws:PrincipalAccount": stack.account, "iam:PermissionsBoundary": boundary_arn(stack.account)}
        for role_id in roles(stack):
            arn = stack.get_att(role_id, "Arn")
            for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:DeleteRole"):
                assert allowed(documents, Request(action, arn, bounded)), (action, arn)
            unbounded = Request("iam:CreateRole", arn, {"aws:PrincipalAccount": stack.account})
            assert not allowed(documents, unbounded), arn
            assert evaluate([deploy_boundary()], unbounded) is Decision.EXPLICIT_DENY, arn
            for policy in stack.resolve(stack.resources[role_id]["Properties"].get("ManagedPolicyArns", [])):
                attach = Request("iam:AttachRolePolicy", arn, {**bounded, "iam:PolicyARN": policy})
                assert allowed(documents, attach), (arn, policy)


def test_each_policy_fits_a_managed_policy_and_names_no_partition_or_account() -> None:
    sids = []
    for path in EXECUTION_POLICY_FILES:
        text = path.read_text()
        assert "arn:aws:" not in text, path.name
        assert not re.search(r"\d{12}", text), path.name
        sids += [s["Sid"] for s in json.loads(text)["Statement"]]
    assert len(sids) == len(set(sids)), "statement ids are unique across the five policies"
    for document in execution_policies():  # as installed: the Route 53 statements name cdk.json's zones
        assert len(json.dumps(document, separators=(",", ":"))) <= 6144, "over IAM's managed policy limit"


def _r(action: str, resource: str = "*", **context: Any) -> Request:
    return Request(action, resource, _context(**context))


BOUNDED = {"iam:PermissionsBoundary": BOUNDARY}
#: cdk.json's prod domain, the one stage with a hosted zone.
(ZONE_ID, DOMAIN), *_ = installed().zones
ZONE = f"arn:aws:route53:::hostedzone/{ZONE_ID}"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
GUARDRAILS = [f"arn:aws:iam::{ACCOUNT}:policy/download-service-{n}" for n in ("boundary", "deploy", "deploy-data")]
FOREIGN_SG = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:security-group/sg-0shop"

REFUSED = [
    ("a stage role without the boundary", _r("iam:CreateRole", ROLE)),
    ("a stage role with another boundary", _r("iam:CreateRole", ROLE, **{"iam:PermissionsBoundary": ADMIN})),
    (
        "swapping the boundary for another",
        _r("iam:PutRolePermissionsBoundary", ROLE, **{"iam:PermissionsBoundary": ADMIN}),
    ),
    ("removing the boundary", _r("iam:DeleteRolePermissionsBoundary", ROLE, **BOUNDED)),
    ("AdministratorAccess on a stage role", _r("iam:AttachRolePolicy", ROLE, **BOUNDED, **{"iam:PolicyARN": ADMIN})),
    ("a role outside the stages", _r("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/Admin", **BOUNDED)),
    (
        "inline policy on another role",
        _r("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"),
    ),
    *[(f"a new version of {p.rsplit('/', 1)[1]}", _r("iam:CreatePolicyVersion", p)) for p in GUARDRAILS],
    ("rolling a guardrail back", _r("iam:SetDefaultPolicyVersion", GUARDRAILS[0])),
    ("deleting the boundary policy", _r("iam:DeletePolicy", GUARDRAILS[0])),
    ("a managed policy not named as a publisher's", _r("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/anything")),
    ("attaching a publisher policy to a user", _r("iam:AttachUserPolicy", f"arn:aws:iam::{ACCOUNT}:user/x")),
    ("passing a stage role to EC2", _r("iam:PassRole", ROLE, **{"iam:PassedToService": "ec2.amazonaws.com"})),
    (
        "passing another role",
        _r("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/Admin", **{"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
    ),
    ("IAM users", _r("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/backdoor")),
    ("access keys", _r("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/backdoor")),
    ("console passwords", _r("iam:CreateLoginProfile", f"arn:aws:iam::{ACCOUNT}:user/backdoor")),
    ("assuming any role", _r("sts:AssumeRole", "arn:aws:iam::210987654321:role/OrganizationAccountAccessRole")),
    ("another project's VPC", _r("ec2:DeleteVpc", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc/vpc-0shop")),
    (
        "another project's security group",
        _r("ec2:AuthorizeSecurityGroupIngress", FOREIGN_SG, **{"aws:ResourceTag/service": "shop"}),
    ),
    (
        "claiming another project's security group by tagging it",
        _r("ec2:CreateTags", FOREIGN_SG, **{"aws:RequestTag/service": "download-service"}),
    ),
    ("a subnet in another project's VPC", _r("ec2:CreateSubnet", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc/vpc-0shop")),
    ("an untagged VPC", _r("ec2:CreateVpc", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc/*")),
    (
        "another project's load balancer",
        _r(
            "elasticloadbalancing:DeleteLoadBalancer",
            f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:loadbalancer/app/shop/1",
        ),
    ),
    ("another project's ECS service", _r("ecs:UpdateService", f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/shop/web")),
    ("another project's key policy", _r("kms:PutKeyPolicy", f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234")),
    ("another project's bucket", _r("s3:DeleteBucket", "arn:aws:s3:::payroll")),
    ("another project's bucket policy", _r("s3:PutBucketPolicy", "arn:aws:s3:::payroll")),
    ("reading the files", _r("s3:GetObject", "arn:aws:s3:::download-service-prod-files-123456789012-eu-west-1/x")),
    ("another account's CDK assets", _r("s3:GetObject", "arn:aws:s3:::cdk-hnb659fds-assets-210987654321-eu-west-1/x")),
    (
        "another project's function",
        _r("lambda:UpdateFunctionCode", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:payroll"),
    ),
    ("another project's log group", _r("logs:DeleteLogGroup", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:payroll")),
    ("another project's topic", _r("sns:SetTopicAttributes", f"arn:aws:sns:eu-west-1:{ACCOUNT}:payroll")),
    (
        "another project's alarms",
        _r("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:payroll"),
    ),
    (
        "DNS records other than A, AAAA, CNAME",
        _r(
            "route53:ChangeResourceRecordSets",
            ZONE,
            **{
                "route53:ChangeResourceRecordSetsRecordTypes": ["NS"],
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [DOMAIN],
            },
        ),
    ),
    ("leaving the organization", _r("organizations:LeaveOrganization")),
]

ALLOWED = [
    ("a stage role with the boundary", _r("iam:CreateRole", ROLE, **BOUNDED)),
    (
        "a stage role passed to ECS tasks",
        _r("iam:PassRole", ROLE, **{"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
    ),
    ("a publisher policy", _r("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/download-service-dev-publisher")),
    (
        "a VPC tagged as ours",
        _r("ec2:CreateVpc", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc/*", **{"aws:RequestTag/service": "download-service"}),
    ),
    (
        "tagging on create",
        _r("ec2:CreateTags", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:subnet/*", **{"ec2:CreateAction": "CreateSubnet"}),
    ),
    ("our security group", _r("ec2:AuthorizeSecurityGroupIngress", FOREIGN_SG, **OURS)),
    (
        "our load balancer",
        _r(
            "elasticloadbalancing:DeleteLoadBalancer",
            f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:loadbalancer/app/x/1",
            **OURS,
        ),
    ),
    (
        "our files bucket's configuration",
        _r("s3:PutBucketPolicy", "arn:aws:s3:::download-service-prod-files-123456789012-eu-west-1"),
    ),
    ("this account's CDK assets", _r("s3:GetObject", f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-eu-west-1/x.zip")),
    (
        "the service's A record",
        _r(
            "route53:ChangeResourceRecordSets",
            ZONE,
            **{
                "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [DOMAIN],
            },
        ),
    ),
    (
        "the certificate's validation record",
        _r(
            "route53:ChangeResourceRecordSets",
            ZONE,
            **{
                "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [f"_3f2a.{DOMAIN}"],
            },
        ),
    ),
]


@pytest.mark.parametrize(("why", "request_"), REFUSED, ids=[why for why, _ in REFUSED])
def test_the_execution_policies_refuse(why: str, request_: Request) -> None:
    assert not allowed(execution_policies(), request_, boundary=deploy_boundary()), why


@pytest.mark.parametrize(("why", "request_"), ALLOWED, ids=[why for why, _ in ALLOWED])
def test_the_execution_policies_allow(why: str, request_: Request) -> None:
    """The other side of each refusal: the same call on our own resources, in the shape CloudFormation makes it."""
    assert allowed(execution_policies(), request_, boundary=deploy_boundary()), why


def test_boundary_and_guardrail_changes_are_explicit_denies_of_the_execution_roles_boundary() -> None:
    """An explicit deny in the boundary `make bootstrap` gives the execution role, so a broader policy attached
    beside the execution policies (AdministratorAccess, a re-bootstrap without them) cannot reopen them."""
    administrator = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    for request in (
        _r("iam:DeleteRolePermissionsBoundary", ROLE, **BOUNDED),
        _r("iam:CreateRole", ROLE),
        _r("iam:CreatePolicyVersion", GUARDRAILS[0]),
        _r("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"),
    ):
        assert evaluate([deploy_boundary()], request) is Decision.EXPLICIT_DENY, request
        assert not allowed(administrator, request, boundary=deploy_boundary()), request
