"""The image vulnerability gate as a pipeline step: it runs after the Assets stage has published the service image
and before the first stage deploys it (as that stage's first `pre` step). devtools/image_gate.py does the judging
(digest, bounded wait for the registry's scan, severities, allow-list); this module only decides how it runs and
with which permissions: reading that one repository's images and scan findings, nothing else.

The repository is the CDK bootstrap's asset repository of the account and region the image was published to,
`cdk-<qualifier>-container-assets-<account>-<region>`, and the tag is the DockerImageAsset's `asset_hash` (the
tag cdk-assets pushes). The bootstrap template does not turn scanning on for that repository: the account needs a
registry scanning rule (basic scan on push, or enhanced scanning) covering it, or the gate fails with the command
that adds one.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam

from devtools.image_gate import ACTIONS

from . import buildspec as buildspec_file

DEFAULT_FAIL_ON = ("CRITICAL",)
DEFAULT_WAIT = Duration.minutes(15)
#: Room around the wait for `make venv` (the locked dev requirements) and the calls themselves.
INSTALL_ALLOWANCE = Duration.minutes(15)


def repository_arn(*, partition: str, region: str, account: str, repository_name: str) -> str:
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository_name}"


def gate_command(*, fail_on: Sequence[str], wait_seconds: int) -> str:
    """The CLI line; what varies per stage arrives as environment variables (tokens are fine there)."""
    return (
        '.venv/bin/python -m devtools.image_gate --repository "$IMAGE_REPOSITORY" --tag "$IMAGE_TAG"'
        ' --registry-id "$IMAGE_ACCOUNT" --region "$IMAGE_REGION"'
        f" --fail-on {','.join(fail_on)} --wait-seconds {wait_seconds}"
    )


def image_gate_step(
    step_id: str = "ImageGate",
    *,
    input: pipelines.IFileSetProducer,  # the name CodeBuildStep itself uses
    repository_name: str,
    image_tag: str,
    account: str,
    region: str,
    fail_on: Sequence[str] = DEFAULT_FAIL_ON,
    wait: Duration = DEFAULT_WAIT,
) -> pipelines.CodeBuildStep:
    """A CodeBuild step that fails unless the image `repository_name:image_tag` passes the gate."""
    python = buildspec_file.load().runtime_versions["python"]  # the same interpreter the Synth step runs
    return pipelines.CodeBuildStep(
        step_id,
        input=input,
        install_commands=["make venv"],
        commands=[gate_command(fail_on=fail_on, wait_seconds=int(wait.to_seconds()))],
        env={
            "IMAGE_REPOSITORY": repository_name,
            "IMAGE_TAG": image_tag,
            "IMAGE_ACCOUNT": account,
            "IMAGE_REGION": region,
        },
        role_policy_statements=[
            iam.PolicyStatement(
                actions=list(ACTIONS),
                resources=[
                    repository_arn(
                        partition=Aws.PARTITION, region=region, account=account, repository_name=repository_name
                    )
                ],
            )
        ],
        partial_build_spec=codebuild.BuildSpec.from_object(
            {"phases": {"install": {"runtime-versions": {"python": python}}}}
        ),
        timeout=Duration.minutes(wait.to_minutes() + INSTALL_ALLOWANCE.to_minutes()),
    )
