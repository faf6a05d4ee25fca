"""Who may change what the pipeline delivers: approvers, the Source action's connection, the asset roles' builds,
the artifact bucket's writers, and that every build and framework function logs to a group that expires."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from app import load
from stages.config import CONTEXT_KEY

from .conftest import Synth, cdk_json_context, only, synthesize

FOREIGN = "arn:aws:iam::123456789012:role/Administrator"


def _resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return template.find_resources(kind)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """(role logical id, statement) for every identity policy statement in the template."""
    return [
        (role["Ref"], statement)
        for policy in _resources(template, "AWS::IAM::Policy").values()
        for role in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _logical_id(template: Template, kind: str, **properties: Any) -> str:
    found = template.find_resources(kind, {"Properties": properties} if properties else None)
    assert len(found) == 1, sorted(found)
    return next(iter(found))


# ---- approvals ----------------------------------------------------------------------------------------------------


def test_approvers_policy_grants_exactly_the_approval_and_reading_the_pipeline(pipeline_template: Template) -> None:
    pipeline = _logical_id(pipeline_template, "AWS::CodePipeline::Pipeline")
    arn = ["arn:aws:codepipeline:eu-west-1:123456789012:", {"Ref": pipeline}]
    policy_id, policy = next(iter(_resources(pipeline_template, "AWS::IAM::ManagedPolicy").items()))
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "codepipeline:PutApprovalResult",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [*arn, "/ApproveProd/Approve"]]},
            "Sid": "ApproveOrRejectPromotions",
        },
        {
            "Action": ["codepipeline:GetPipeline", "codepipeline:GetPipelineState"],
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", arn]},
            "Sid": "ReadThePipeline",
        },
    ]
    # attached to nobody by the stack: an administrator assigns it to the approvers' group
    assert not {"Roles", "Users", "Groups"} & set(policy["Properties"])
    assert pipeline_template.to_json()["Outputs"]["ApproversPolicyArn"]["Value"] == {"Ref": policy_id}
    # ...and it is the only grant of the approval anywhere in the app
    grants = [s for _, s in _statements(pipeline_template) if "codepipeline:PutApprovalResult" in _listed(s["Action"])]
    assert grants == []


def test_the_approval_in_the_policy_is_the_one_the_pipeline_waits_for(pipeline_template: Template) -> None:
    pipeline = only(_resources(pipeline_template, "AWS::CodePipeline::Pipeline"))["Properties"]
    approvals = [
        f"/{stage['Name']}/{action['Name']}"
        for stage in pipeline["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Category"] == "Approval"
    ]
    assert approvals == ["/ApproveProd/Approve"]


# ---- the Source action and the asset roles ------------------------------------------------------------------------


def test_source_role_may_use_the_connection_under_both_service_prefixes(pipeline_template: Template) -> None:
    connection = load(cdk_json_context()[CONTEXT_KEY]).pipeline.connection_arn
    assert connection.startswith("arn:aws:codeconnections:")  # the prefix IAM evaluates for this ARN
    uses = [(role, s) for role, s in _statements(pipeline_template) if "UseConnection" in json.dumps(s["Action"])]
    source_roles = {role for role, _ in uses if role.startswith("PipelineSource")}
    assert len(source_roles) == 1
    source = [s for role, s in uses if role in source_roles]
    assert source == [
        {
            "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
            "Effect": "Allow",
            "Resource": connection,
        }
    ]


def test_asset_roles_may_start_only_their_own_projects(pipeline_template: Template) -> None:
    projects = _resources(pipeline_template, "AWS::CodeBuild::Project")
    assets = {
        pid: p["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
        for pid, p in projects.items()
        if pid.startswith("PipelineAssets")
    }
    assert len(assets) == 2  # one per asset type: Docker, File
    for project, role in assets.items():
        statements = [s for r, s in _statements(pipeline_template) if r == role]
        build = [s for s in statements if "codebuild:StartBuild" in _listed(s["Action"])]
        assert build == [
            {
                "Action": ["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"],
                "Effect": "Allow",
                "Resource": [{"Fn::GetAtt": [project, "Arn"]}],
            }
        ]
        # logs and reports of that project only, as CodeBuild grants any project of its own
        wildcards = [r for s in statements for r in _listed(s["Resource"]) if isinstance(r, str) and r.endswith("/*")]
        assert wildcards == [], wildcards
    # no role of the pipeline may start builds of any project of the account
    for _, statement in _statements(pipeline_template):
        if any(a.startswith("codebuild:") for a in _listed(statement["Action"])):
            assert "*" not in _listed(statement["Resource"]), statement


# ---- the artifact bucket ------------------------------------------------------------------------------------------


def _bucket(template: Template) -> tuple[str, dict[str, Any]]:
    pipeline = only(_resources(template, "AWS::CodePipeline::Pipeline"))["Properties"]
    bucket_id = pipeline["ArtifactStore"]["Location"]["Ref"]
    return bucket_id, template.to_json()["Resources"][bucket_id]["Properties"]


def test_artifact_bucket_is_versioned_and_expires_old_versions(pipeline_template: Template) -> None:
    _, bucket = _bucket(pipeline_template)
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-artifacts"]["ExpirationInDays"] == 30
    assert rules["expire-artifacts"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["remove-delete-markers"]["ExpiredObjectDeleteMarker"] is True


def _denied(statements: list[dict[str, Any]], principal: Any, action: str) -> bool:
    """Whether any of the bucket policy's Deny statements refuses `action` on an object to `principal`."""
    for statement in statements:
        if statement["Effect"] != "Deny" or "Bool" in statement.get("Condition", {}):
            continue
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in _listed(statement["Action"])):
            continue
        exempt = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        if principal not in exempt:
            return True
    return False


def _writers(template: Template, bucket_id: str) -> set[str]:
    """Roles whose identity policies may put or delete objects in the bucket."""
    return {
        role
        for role, statement in _statements(template)
        if statement["Effect"] == "Allow"
        and bucket_id in json.dumps(statement["Resource"])
        and any(a.startswith(("s3:PutObject", "s3:DeleteObject")) for a in _listed(statement["Action"]))
    }


def _check_only_the_pipeline_writes(template: Template) -> None:
    bucket_id, _ = _bucket(template)
    policy = next(
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    )
    writers = _writers(template, bucket_id)
    # CDK Pipelines lets exactly these write: CodePipeline itself, the Source action (checkout), Synth (cdk.out)
    assert {w.rstrip("0123456789ABCDEF") for w in writers} == {
        "PipelineRole",
        "PipelineSourceexampleorgdownloadserviceCodePipelineActionRole",
        "PipelineBuildSynthCdkBuildProjectRole",
    }
    deleter = only({r: r for r in _resources(template, "AWS::IAM::Role") if r.startswith("CustomS3AutoDelete")})
    for role in writers:
        for action in ("s3:PutObject", "s3:PutObjectAcl", "s3:DeleteObject", "s3:DeleteObjectVersion"):
            assert not _denied(policy, {"Fn::GetAtt": [role, "Arn"]}, action), (role, action)
    readers = {r for r, _ in _statements(template)} - writers
    assert readers  # the deploy, asset, smoke and self-mutation roles only read
    for principal in [FOREIGN, *({"Fn::GetAtt": [r, "Arn"]} for r in readers)]:
        for action in ("s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectTagging", "s3:DeleteObjectVersion"):
            assert _denied(policy, principal, action), (principal, action)
        assert not _denied(policy, principal, "s3:GetObject")
    # the stack's auto-delete function may empty the bucket on teardown, and put nothing
    auto_delete = {"Fn::GetAtt": [deleter, "Arn"]}
    assert not _denied(policy, auto_delete, "s3:DeleteObjectVersion")
    assert _denied(policy, auto_delete, "s3:PutObject")


def test_only_the_pipelines_own_roles_write_artifacts(pipeline_template: Template) -> None:
    _check_only_the_pipeline_writes(pipeline_template)


@pytest.fixture(scope="module")
def cross_account(tmp_path_factory: pytest.TempPathFactory) -> Template:
    context = cdk_json_context()
    context[CONTEXT_KEY]["stages"]["prod"]["account"] = "210987654321"
    return Template.from_stack(synthesize(tmp_path_factory.mktemp("cross-account"), context).built.pipeline)


def test_cross_account_deploy_roles_read_artifacts_and_write_none(cross_account: Template) -> None:
    _check_only_the_pipeline_writes(cross_account)
    bucket_id, _ = _bucket(cross_account)
    policy = next(
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _resources(cross_account, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    )
    assert "210987654321:role/cdk-hnb659fds-deploy-role" in json.dumps(policy)  # CDK's read grant to prod's role
    prod_deploy = "arn:aws:iam::210987654321:role/cdk-hnb659fds-deploy-role-210987654321-eu-west-1"
    assert _denied(policy, prod_deploy, "s3:PutObject")
    assert not _denied(policy, prod_deploy, "s3:GetObject")


# ---- logs that expire ---------------------------------------------------------------------------------------------


def test_every_build_logs_to_a_retained_group_and_pull_requests_to_their_own(pipeline_template: Template) -> None:
    groups = _resources(pipeline_template, "AWS::Logs::LogGroup")
    projects = _resources(pipeline_template, "AWS::CodeBuild::Project")
    used = {}
    for project_id, project in projects.items():
        logs = project["Properties"]["LogsConfig"]["CloudWatchLogs"]
        assert logs["Status"] == "ENABLED"
        group = logs["GroupName"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == 90
        assert groups[group]["DeletionPolicy"] == "Retain"
        used[project_id] = group
    pull_requests = next(p for p in projects if p.startswith("PullRequests"))
    assert used[pull_requests] not in {g for p, g in used.items() if p != pull_requests}
    assert len(set(used.values())) == 2


def test_every_lambda_function_logs_to_a_group_that_expires(synth: Synth) -> None:
    checked = 0
    for name, template in synth.templates().items():
        resources = template["Resources"]
        for function_id, function in resources.items():
            if function["Type"] != "AWS::Lambda::Function":
                continue
            group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            assert resources[group]["Type"] == "AWS::Logs::LogGroup", (name, function_id)
            assert resources[group]["Properties"]["RetentionInDays"] > 0, (name, function_id)
            checked += 1
    assert checked >= 10  # framework providers (auto-delete, default SG), AwsCustomResource, the release hook
