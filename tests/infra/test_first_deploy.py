"""What a first deployment into a fresh account calls that the guardrails must not deny (issue 18, a-d; e and f are
`make bootstrap`'s: tests/devtools/test_bootstrap*.py, tests/security/test_image_gate.py), each on the AWS document
or public issue that states it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stages.common.keys import KEY_MANAGEMENT, STATEMENT_ID

from .cfn_permissions import handler_permissions
from .conftest import Synth
from .iam_support import deploy_boundary, execution_policies, pipeline_policies, stage_stacks
from .policy_eval import Request, allowed
from .template_arns import StackArns

ACCOUNT = "123456789012"


def _stacks(synth: Synth) -> list[StackArns]:
    stacks = list(stage_stacks(synth))
    pipeline = synth.built.pipeline
    stacks.append(
        StackArns(pipeline.stack_name, pipeline.account, pipeline.region, synth.templates()["DownloadServicePipeline"])
    )
    return stacks


# ---- a) CodeStar Notifications creates its service-linked role with the caller's permissions ---------------------


def test_a_the_first_notification_rule_may_create_its_service_linked_role(pipeline_template: Any) -> None:
    """ "This role is created for you the first time you create a notification rule"
    (https://docs.aws.amazon.com/dtconsole/latest/userguide/using-service-linked-roles.html): by CloudFormation's
    CreateNotificationRule, with the execution role's permissions."""
    assert pipeline_template.find_resources("AWS::CodeStarNotifications::NotificationRule")
    service_path = "aws-service-role/codestar-notifications.amazonaws.com"
    role = f"arn:aws:iam::{ACCOUNT}:role/{service_path}/AWSServiceRoleForCodeStarNotifications"

    def may(service: str, arn: str = role) -> bool:
        request = Request(
            "iam:CreateServiceLinkedRole", arn, {"aws:PrincipalAccount": ACCOUNT, "iam:AWSServiceName": service}
        )
        return allowed(pipeline_policies(), request, boundary=deploy_boundary())

    assert may("codestar-notifications.amazonaws.com")
    assert not may("elasticbeanstalk.amazonaws.com", role.replace("codestar-notifications", "elasticbeanstalk"))


# ---- b) KMS's lockout check at CreateKey ------------------------------------------------------------------------


def _key_policy_grants(stack: StackArns, logical_id: str) -> dict[str, Any]:
    (statement,) = [
        s for s in stack.resources[logical_id]["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == STATEMENT_ID
    ]
    return statement


@pytest.mark.parametrize("layout", ["synth", "three_accounts"])
def test_b_every_key_names_the_role_that_deploys_it_in_its_own_policy(
    layout: str, request: pytest.FixtureRequest
) -> None:
    """KMS refuses CreateKey when the key policy would not let the caller call PutKeyPolicy later
    (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html, BypassPolicyLockoutSafetyCheck); with only
    the account-root statement it judges the caller's IAM policies against a key that has no tags yet
    (aws-solutions/innovation-sandbox-on-aws#31, whose fix #117 names the execution role in the key policy). Here
    every key names the stack's own cfn-exec role, with every key action CloudFormation's handlers call."""
    keys = 0
    for stack in _stacks(request.getfixturevalue(layout)):
        name = f"cdk-hnb659fds-cfn-exec-role-{stack.account}-{stack.region}"
        role = f"arn:${{AWS::Partition}}:iam::{stack.account}:role/{name}"
        for logical_id, resource in stack.resources.items():
            if resource["Type"] != "AWS::KMS::Key":
                continue
            statement = _key_policy_grants(stack, logical_id)
            assert statement["Principal"] == {"AWS": {"Fn::Sub": role}}, (stack.name, logical_id)
            assert statement["Effect"] == "Allow"
            assert "kms:PutKeyPolicy" in statement["Action"]
            assert "Tags" not in resource["Properties"], "tag-on-create would need kms:TagResource on every key"
            keys += 1
    assert keys >= 4  # each stateless stack's alarm topic key, the pipeline's notification key (and artifact key)


def test_b_the_key_policy_grants_what_cloudformations_key_handlers_call() -> None:
    needed = {a for actions in handler_permissions("AWS::KMS::Key").values() for a in actions} - {"kms:CreateKey"}
    assert set(KEY_MANAGEMENT) == needed


def test_b_the_execution_policies_create_keys_and_manage_none() -> None:
    """The key is created unconditioned (no tag to require); every later call is the key policy's (M1)."""
    documents = execution_policies() + pipeline_policies()
    context = {"aws:PrincipalAccount": ACCOUNT}
    assert allowed(documents, Request("kms:CreateKey", "*", context), boundary=deploy_boundary())
    key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234"
    for action in KEY_MANAGEMENT:
        assert not allowed(documents, Request(action, key, {**context, "aws:ResourceTag/service": "download-service"}))


# ---- c) ECS service deployments: untaggable resources -------------------------------------------------------------


def test_c_the_ecs_handlers_deployment_calls_are_allowed_without_tags(synth: Synth) -> None:
    """CloudFormation's AWS::ECS::Service handlers call ecs:ListServiceDeployments (on the service, which carries our
    tag) and ecs:Describe/StopServiceDeployment on service-deployment ARNs
    (`service-deployment/<cluster>/<service>/<id>`), which ecs:TagResource cannot tag (its resource types in the
    Service Authorization Reference): allowed by the cluster name in the ARN, no tag in the request."""
    services = 0
    for stack in stage_stacks(synth):
        for logical_id, resource in stack.resources.items():
            if resource["Type"] != "AWS::ECS::Service":
                continue
            cluster = stack.physical_name(resource["Properties"]["Cluster"]["Ref"])
            service = stack.physical_name(logical_id)
            deployment = stack.arn("ecs", f"service-deployment/{cluster}/{service}/0a1b2c3d")
            bare = {"aws:PrincipalAccount": stack.account}
            for action in ("ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"):
                assert allowed(execution_policies(), Request(action, deployment, bare), boundary=deploy_boundary())
            other = stack.arn("ecs", f"service-deployment/payroll/{service}/0a1b2c3d")
            assert not allowed(execution_policies(), Request("ecs:StopServiceDeployment", other, bare))
            services += 1
    assert services == 3


# ---- d) CodeBuild checks the connection when it creates the pull-request project --------------------------------


def test_d_the_pull_request_project_waits_for_its_connection_grant(pipeline_template: Any) -> None:
    """CodeBuild validates, at CreateProject/CreateWebhook, that the project's role may use the CODECONNECTIONS
    connection ("Access denied to connection", aws-cdk#31726). The role's default policy refers to the project (its
    log group) and so is created after it (aws-cdk#38504): the grant is a policy of its own the project depends on."""
    resources = pipeline_template.to_json()["Resources"]
    (project_id,) = [
        k
        for k, r in resources.items()
        if r["Type"] == "AWS::CodeBuild::Project" and r["Properties"]["Source"].get("Auth")
    ]
    project = resources[project_id]
    assert project["Properties"]["Source"]["Auth"]["Type"] == "CODECONNECTIONS"
    (grant_id,) = project["DependsOn"]
    grant = resources[grant_id]
    assert grant["Type"] == "AWS::IAM::Policy"
    assert grant["Properties"]["Roles"] == [{"Ref": project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]}]
    (statement,) = grant["Properties"]["PolicyDocument"]["Statement"]
    assert {"codeconnections:UseConnection", "codeconnections:GetConnectionToken"} <= set(statement["Action"])
    assert statement["Resource"] == project["Properties"]["Source"]["Auth"]["Resource"]
    assert json.dumps(grant).count("Ref") == 1, "the grant refers to the role only, never back to the project"


def test_d_the_execution_role_may_pass_the_connection_to_codebuild_and_codepipeline_only() -> None:
    connection = f"arn:aws:codeconnections:eu-west-1:{ACCOUNT}:connection/0b1c"
    for service, expected in (
        ("codebuild.amazonaws.com", True),
        ("codepipeline.amazonaws.com", True),
        ("glue.amazonaws.com", False),
    ):
        request = Request(
            "codeconnections:PassConnection",
            connection,
            {"aws:PrincipalAccount": ACCOUNT, "codeconnections:PassedToService": service},
        )
        assert allowed(pipeline_policies(), request, boundary=deploy_boundary()) is expected, service
