"""Least privilege on what CDK Pipelines builds, applied to the built pipeline (after `build_pipeline()`).

- Asset-publishing roles: CDK Pipelines creates one role per asset type (AssetSingletonRole) before the projects
  that use it, so it writes `codebuild:StartBuild/StopBuild/BatchGetBuilds` on `*`, logs on `/aws/codebuild/*` and
  report groups on `report-group/*`. StartBuild on `*` is an escalation path: it may start any project of the
  account with a buildspec override, running code as that project's role (the self-mutation one deploys anything).
  `scope_asset_roles` renders those statements on the role's own projects only.
- The Source action's role gets `codeconnections:UseConnection` beside CDK's `codestar-connections:UseConnection`:
  IAM evaluates the prefix of the connection ARN's service, and cdk.json's connection is a codeconnections one.
- `artifact_writers`: the roles CDK Pipelines lets write the artifact bucket (ArtifactStorage.restrict_writes
  denies everybody else).
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import ArnFormat, IResolvable, IResolveContext, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam

BUILD_CONTROL = ("codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild")
LOG_WRITE = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
REPORTS = (
    "codebuild:BatchPutCodeCoverages",
    "codebuild:BatchPutTestCases",
    "codebuild:CreateReport",
    "codebuild:CreateReportGroup",
    "codebuild:UpdateReport",
)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _project_resources(project: codebuild.IProject) -> dict[tuple[str, ...], list[str]]:
    """What CodeBuild's own Project construct grants a project's role, for that one project."""
    stack = Stack.of(project)
    log_group = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name=f"/aws/codebuild/{project.project_name}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    reports = stack.format_arn(service="codebuild", resource="report-group", resource_name=f"{project.project_name}-*")
    return {BUILD_CONTROL: [project.project_arn], LOG_WRITE: [log_group, f"{log_group}:*"], REPORTS: [reports]}


@jsii.implements(IResolvable)
class _ScopedDocument:
    """The role's policy document as CDK renders it, each shared wildcard statement scoped to the role's own
    projects. Resolved at synth, so statements CDK adds to the role later are still rendered."""

    creation_stack: list[str] = []  # noqa: RUF012 - IResolvable's attribute; nothing appends to it

    def __init__(self, original: Any, projects: list[codebuild.IProject]) -> None:
        self.original = original
        self.projects = projects

    def to_string(self) -> str:
        return "<asset role policy, scoped to its projects>"

    def resolve(self, context: IResolveContext) -> Any:
        document = context.resolve(self.original)
        scoped: dict[tuple[str, ...], list[str]] = {}
        for project in self.projects:
            for actions, resources in _project_resources(project).items():
                scoped.setdefault(actions, []).extend(resources)
        for statement in document.get("Statement", []):
            actions = tuple(sorted(_listed(statement.get("Action", []))))
            if actions in scoped and all("*" in str(r) for r in _listed(statement.get("Resource"))):
                statement["Resource"] = context.resolve(scoped[actions])
        return document


def asset_projects(pipeline: pipelines.CodePipeline) -> dict[str, tuple[iam.IRole, list[codebuild.IProject]]]:
    """Asset-publishing role path -> (role, the projects that run with it)."""
    found: dict[str, tuple[iam.IRole, list[codebuild.IProject]]] = {}
    for construct in pipeline.node.find_child("Assets").node.children:
        if isinstance(construct, codebuild.Project) and construct.role is not None:
            role = construct.role
            found.setdefault(role.node.path, (role, []))[1].append(construct)
    return found


def scope_asset_roles(pipeline: pipelines.CodePipeline) -> None:
    for role, projects in asset_projects(pipeline).values():
        policy = role.node.find_child("DefaultPolicy").node.default_child
        policy.policy_document = _ScopedDocument(policy.policy_document, projects)


def _action_roles(pipeline: codepipeline.Pipeline, category: str) -> list[iam.IRole]:
    """The roles the pipeline's L1 names for its actions of `category` (CodePipeline assumes them to run those)."""
    stack = Stack.of(pipeline)
    by_logical_id = {
        stack.get_logical_id(role.node.default_child): role
        for role in pipeline.node.find_all()
        if isinstance(role, iam.Role)
    }
    roles = []
    for stage in stack.resolve(pipeline.node.default_child.stages):
        for action in stage["actions"]:
            arn = action.get("roleArn")
            if action["actionTypeId"]["category"] == category and isinstance(arn, dict) and "Fn::GetAtt" in arn:
                roles.append(by_logical_id[arn["Fn::GetAtt"][0]])
    return roles


def allow_codeconnections(pipeline: codepipeline.Pipeline, connection_arn: str) -> None:
    for role in _action_roles(pipeline, "Source"):
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["codeconnections:UseConnection"], resources=[connection_arn])
        )


def artifact_writers(pipeline: pipelines.CodePipeline) -> list[iam.IRole]:
    """Who puts objects into the artifact bucket: the pipeline's role (CodePipeline itself), the Source action's
    role (the checkout) and the Synth project's role (cdk.out). Every other action only reads artifacts."""
    return [pipeline.pipeline.role, *_action_roles(pipeline.pipeline, "Source"), pipeline.synth_project.role]


def auto_delete_role_arn(stack: Stack) -> str:
    """The role of the stack's S3 auto-delete function (it empties the buckets when the stack is deleted)."""
    return stack.node.find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider").role_arn
