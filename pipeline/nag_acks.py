"""cdk-nag acknowledgements for what CDK Pipelines generates: one per finding, with the reason it is acceptable.

Called once the pipeline is built (its roles and projects exist only then). Every IAM5 finding is acknowledged on
the policy it occurs on, by its exact id; `reason_for` refuses a finding it has no reason for, so a new wildcard
(a CDK upgrade, a new step) fails synth instead of being waved through.

No reason covers codebuild:StartBuild on `*`: whoever may start any project of the account may run code as any
project's role (a buildspec override), so it is not acceptable anywhere. CDK Pipelines writes it, with logs on
/aws/codebuild/* and report groups on report-group/*, for its asset-publishing roles; pipeline/access.py scopes
those statements to each role's own projects before cdk-nag looks.
"""

from __future__ import annotations

import re

from aws_cdk import Stack, Stage
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from stages.common import nag

#: A CodeBuild project's EncryptionKey when nobody set one: CodeBuild's AWS-managed S3 key.
_AWS_MANAGED = (None, "alias/aws/s3")

#: (pattern over the finding, reason[, the only actions it covers]). Checked in order; `{role}` is the construct path
#: of the policy's owner. A finding on `*` names its actions too, so a new action on `*` (iam:PassRole, say) has
#: no reason on record and fails synth.
REASONS: list[tuple[re.Pattern[str], str] | tuple[re.Pattern[str], str, frozenset[str]]] = [
    (
        re.compile(r"^Action::s3:(Abort|DeleteObject|GetBucket|GetObject|List)\*$"),
        "{action} is part of CDK's grantRead/grantReadWrite action group on the pipeline's own artifact bucket "
        "(objects this pipeline wrote for {role}); no other bucket is granted.",
    ),
    (
        re.compile(r"^Resource::<\w*Artifacts\w*\.Arn>/\*$"),
        "Artifact objects of this pipeline's own bucket: each execution writes new keys, so {role} cannot name "
        "them in advance.",
    ),
    (
        re.compile(r"^Resource::arn:[\w-]+:logs:[\w-]+:\d{12}:log-group:/aws/codebuild/<\w+>:\*$"),
        "Log streams in this CodeBuild project's own log group (/aws/codebuild/<project>); stream names are "
        "created per build.",
    ),
    (
        re.compile(r"^Resource::arn:[\w-]+:codebuild:[\w-]+:\d{12}:report-group/<\w+>-\*$"),
        "Report groups named after this project (buildspec `reports`: JUnit, coverage); CodeBuild creates them "
        "as <project>-<name> on the first build.",
    ),
    (
        re.compile(r"^Resource::arn:\*:iam::\d{12}:role/\*$"),
        "Self-mutation and asset publishing assume the CDK bootstrap roles only: the statement is conditioned "
        "on iam:ResourceTag/aws-cdk:bootstrap-role (deploy, file-publishing, image-publishing).",
    ),
    (
        re.compile(r"^Resource::\*$"),
        "{actions} on *: `cdk deploy` in {role} looks up stacks and asset buckets it only learns the names of "
        "at run time; both actions are read-only.",
        frozenset({"cloudformation:DescribeStacks", "s3:ListBucket"}),
    ),
    (
        re.compile(r"^Action::kms:(GenerateDataKey|ReEncrypt)\*$"),
        "{action} as CDK's encrypt/decrypt grants write it, on one customer-managed key named by ARN (the "
        "notification topic's, or the cross-account artifact key), never on *.",
    ),
]


def reason_for(finding: str, actions: list[str], role: str) -> str:
    for pattern, reason, *covered in REASONS:
        if pattern.match(finding) and (not covered or set(actions) <= covered[0]):
            action = finding.split("::", 1)[1]
            return reason.format(action=action, actions=", ".join(actions), role=role)
    raise ValueError(f"no reason on record for AwsSolutions-IAM5[{finding}] at {role}: add one to REASONS")


def _own(stack: Stack) -> list[IConstruct]:
    """The stack's constructs, without the stages nested in it (they acknowledge their own findings)."""
    found = []
    pending = list(stack.node.children)
    while pending:
        construct = pending.pop()
        if isinstance(construct, Stage):
            continue
        found.append(construct)
        pending.extend(construct.node.children)
    return found


def acknowledge_pipeline(stack: Stack) -> None:
    for construct in _own(stack):
        if isinstance(construct, iam.CfnPolicy):
            owner = construct.node.scope.node.scope  # Role (or Project role) that owns DefaultPolicy
            role = owner.node.path.removeprefix(f"{stack.node.path}/")
            nag.acknowledge_wildcards(construct, lambda finding, actions, role=role: reason_for(finding, actions, role))
        elif isinstance(construct, codebuild.CfnProject) and stack.resolve(construct.encryption_key) in _AWS_MANAGED:
            nag.acknowledge(
                construct,
                "AwsSolutions-CB4",
                "CodeBuild encrypts this project's outputs with the AWS-managed key alias/aws/s3; the pipeline's "
                "artifact bucket has its own encryption (a rotated CMK once a stage is in another account) and the "
                "builds handle no secrets.",
            )
