"""The pipeline account's execution policies (pipeline/pipeline*-policy.json): what the DownloadServicePipeline
stack needs, and no more. Its roles carry the pipeline boundary (pipeline/pipeline-boundary.json: they must assume
the bootstrap roles, which the stage boundary forbids); these policies let CloudFormation create or change a
pipeline role only with that boundary, and otherwise only the pipeline's own resources."""

from __future__ import annotations

from typing import Any

import pytest

from .cfn_permissions import uncovered
from .conftest import Synth
from .iam_support import PIPELINE_POLICY_FILES, deploy_boundary, execution_policies, pipeline_policies
from .policy_eval import Decision, Request, allowed, evaluate
from .template_arns import StackArns

#: AWS::CodeBuild::Project has no registry schema (a legacy CloudFormation handler): what it calls, by hand, from
#: CodeBuild's API reference (create, update, delete, read; the webhook of the pull-request project).
CODEBUILD_PROJECT = [
    "codebuild:CreateProject",
    "codebuild:UpdateProject",
    "codebuild:DeleteProject",
    "codebuild:BatchGetProjects",
    "codebuild:CreateWebhook",
    "codebuild:UpdateWebhook",
    "codebuild:DeleteWebhook",
    "iam:PassRole",
]

#: What the pipeline policies leave out on purpose, beyond cfn_permissions.NOT_NEEDED.
PIPELINE_NOT_NEEDED = {
    "lambda:GetLayerVersion": "the auto-delete provider has no layers",
    "logs:CreateLogDelivery": "CodeBuild writes the build logs with its roles: no vended-log delivery",
    "logs:PutResourcePolicy": "no log group of the pipeline needs a resource policy",
}

ACCOUNT = "123456789012"
PIPELINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/DownloadServicePipeline-PipelineRole-EXAMPLE"


@pytest.fixture(scope="module")
def pipeline_stack(synth: Synth) -> StackArns:
    config = synth.built.config.pipeline
    name = synth.built.pipeline.stack_name
    return StackArns(name, config.account, config.region, synth.templates()[name])


def test_every_permission_cloudformation_needs_for_the_pipeline_stack_is_allowed(pipeline_stack: StackArns) -> None:
    types = {r["Type"] for r in pipeline_stack.resources.values()}
    missing = uncovered(types, pipeline_policies(), {"AWS::CodeBuild::Project": CODEBUILD_PROJECT}, check_stale=False)
    assert {a: where for a, where in missing.items() if a not in PIPELINE_NOT_NEEDED} == {}
    assert set(PIPELINE_NOT_NEEDED) <= set(missing), "an entry of PIPELINE_NOT_NEEDED is allowed or unneeded now"


def test_the_roles_the_pipeline_passes_go_to_their_services(pipeline_stack: StackArns) -> None:
    documents, passed = pipeline_policies(), 0
    services = {
        "AWS::CodePipeline::Pipeline": "codepipeline.amazonaws.com",
        "AWS::CodeBuild::Project": "codebuild.amazonaws.com",
        "AWS::Lambda::Function": "lambda.amazonaws.com",
    }
    for resource in pipeline_stack.resources.values():
        key = {"AWS::CodePipeline::Pipeline": "RoleArn", "AWS::CodeBuild::Project": "ServiceRole"}.get(
            resource["Type"], "Role"
        )
        if resource["Type"] not in services:
            continue
        role = pipeline_stack.resolve(resource["Properties"][key])
        context = {"aws:PrincipalAccount": pipeline_stack.account, "iam:PassedToService": services[resource["Type"]]}
        assert allowed(documents, Request("iam:PassRole", role, context), boundary=deploy_boundary()), role
        if resource["Type"] == "AWS::CodeBuild::Project":
            project = pipeline_stack.arn("codebuild", "project/example")
            tags = {f"aws:RequestTag/{t['Key']}": t["Value"] for t in resource["Properties"]["Tags"]}
            create = Request("codebuild:CreateProject", project, {**context, **tags, "codebuild:serviceRole": role})
            assert allowed(documents, create), role
        passed += 1
    assert passed >= 3


def _r(action: str, resource: str = "*", **context: Any) -> Request:
    return Request(action, resource, {"aws:PrincipalAccount": ACCOUNT, **context})


REFUSED = [
    ("a role outside the pipeline", _r("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/Admin")),
    (
        "AdministratorAccess on a pipeline role",
        _r("iam:AttachRolePolicy", PIPELINE_ROLE, **{"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ),
    (
        "passing a pipeline role to EC2",
        _r("iam:PassRole", PIPELINE_ROLE, **{"iam:PassedToService": "ec2.amazonaws.com"}),
    ),
    (
        "a build project that runs as another role",
        _r(
            "codebuild:CreateProject",
            f"arn:aws:codebuild:eu-west-1:{ACCOUNT}:project/x",
            **{"codebuild:serviceRole": f"arn:aws:iam::{ACCOUNT}:role/Admin"},
        ),
    ),
    ("another pipeline", _r("codepipeline:UpdatePipeline", f"arn:aws:codepipeline:eu-west-1:{ACCOUNT}:payroll")),
    ("another project's bucket", _r("s3:DeleteBucket", "arn:aws:s3:::payroll")),
    ("the stage boundary", _r("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/download-service-boundary")),
    ("its own policy", _r("iam:DeletePolicy", f"arn:aws:iam::{ACCOUNT}:policy/download-service-pipeline-delivery")),
    ("IAM users", _r("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x")),
    ("access keys", _r("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/x")),
    ("assuming any role", _r("sts:AssumeRole", "arn:aws:iam::210987654321:role/cdk-hnb659fds-deploy-role")),
    (
        "notifications about another resource",
        _r(
            "codestar-notifications:CreateNotificationRule",
            f"arn:aws:codestar-notifications:eu-west-1:{ACCOUNT}:notificationrule/x",
            **{"codestar-notifications:NotificationsForResource": f"arn:aws:codepipeline:eu-west-1:{ACCOUNT}:payroll"},
        ),
    ),
]


@pytest.mark.parametrize(("why", "request_"), REFUSED, ids=[why for why, _ in REFUSED])
def test_the_pipeline_policies_refuse(why: str, request_: Request) -> None:
    assert not allowed(pipeline_policies(), request_, boundary=deploy_boundary()), why


def test_in_one_account_every_role_needs_its_own_boundary() -> None:
    """The shipped cdk.json's layout: all six policies on one execution role. A stage role needs the stage
    boundary and a pipeline role the pipeline boundary, whatever the other policies say; with neither, the execution
    role's boundary denies it explicitly."""
    documents = execution_policies() + pipeline_policies()
    stage_role = f"arn:aws:iam::{ACCOUNT}:role/Dev-Stateless-ServiceTaskTaskRole-EXAMPLE"
    stage, pipeline = (f"arn:aws:iam::{ACCOUNT}:policy/download-service-{n}" for n in ("boundary", "pipeline-boundary"))
    for role, own, other in ((stage_role, stage, pipeline), (PIPELINE_ROLE, pipeline, stage)):
        bounded = {"iam:PermissionsBoundary": own}
        assert allowed(documents, _r("iam:CreateRole", role, **bounded), boundary=deploy_boundary()), role
        crossed = {"iam:PermissionsBoundary": other}
        assert not allowed(documents, _r("iam:CreateRole", role, **crossed), boundary=deploy_boundary()), role
        assert evaluate([deploy_boundary()], _r("iam:CreateRole", role)) is Decision.EXPLICIT_DENY


def test_each_pipeline_policy_fits_a_managed_policy() -> None:
    for path in PIPELINE_POLICY_FILES:
        text = path.read_text()
        assert len("".join(text.split())) <= 6144, path.name
        assert "arn:aws:" not in text, path.name
