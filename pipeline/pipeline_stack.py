"""The self-mutating pipeline: GitHub push -> gates + synth -> update itself -> assets -> dev + smoke ->
approval -> prod + smoke (design §5)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Duration, PermissionsBoundary, Stack, Tags, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from constructs import Construct

from devtools.bootstrap.plan import asset_repository
from download_service import contract
from stages.canary import CANARY_KEY, canary_sha256
from stages.common import framework, keys
from stages.common.boundary import PIPELINE_BOUNDARY_POLICY_NAME
from stages.config import StageConfig
from stages.stage import ServiceStage

from . import access, conditions
from . import buildspec as buildspec_file
from .approval import LinkedApprovalStep
from .approvers import ApproversPolicy
from .config import PipelineConfig
from .image_gate import image_gate_step
from .nag_acks import acknowledge_pipeline
from .notifications import PipelineNotifications
from .pr_validation import PullRequestValidation
from .storage import ArtifactStorage
from .template_fixes import sub_for_action_role_arns

REPO_ROOT = Path(__file__).resolve().parent.parent
PIPELINE_STACK_ID = "DownloadServicePipeline"
#: cdk-assets for the asset-publishing actions, pinned like the CLI (CDK Pipelines would install @latest).
CDK_ASSETS_VERSION = "4.7.3"
#: The manual approval's action name, in the pipeline stage `conditions.approval_stage_name(<promoted stage>)`.
APPROVAL_ACTION = "Approve"
#: aws/codebuild/standard:8.0 (Ubuntu 24.04) offers the runtime versions buildspec.yml asks for: python 3.12 and
#: nodejs 24, the LTS package.json pins (its runtimes.yml lists nodejs 24 and 22:
#: https://github.com/aws/aws-codebuild-docker-images/blob/master/ubuntu/standard/8.0/runtimes.yml).
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_8_0
#: The gates (buildspec.yml: lint, every test suite with real gunicorn and SeaweedFS, scanners, synth) on the
#: pipeline and on pull requests: 4 vCPUs / 7 GB rather than the default 2 / 3 GB.
GATES_ENVIRONMENT = codebuild.BuildEnvironment(build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM)


def cdk_cli_version(package_json: Path = REPO_ROOT / "package.json") -> str:
    """The CDK CLI version pinned for `make synth`, so self-mutation deploys with the very same CLI."""
    return json.loads(package_json.read_text())["devDependencies"]["aws-cdk"]


class PipelineStack(Stack):
    """Owns the pipeline and the stages it deploys (`self.stages`, in order).

    Every role of this stack carries the pipeline boundary (stages/common/boundary.py; the stages' roles keep
    their own), and every resource but its keys the tag `service=download-service`, which the pipeline's
    execution policy and boundary require of the build projects they may change or start."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        stages: list[StageConfig],
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            permissions_boundary=PermissionsBoundary.from_name(PIPELINE_BOUNDARY_POLICY_NAME),
            **kwargs,
        )
        Tags.of(self).add("service", contract.SERVICE_NAME, exclude_resource_types=keys.UNTAGGED)
        self.config = pipeline_config = config
        stage_configs = stages
        cross_account = any(stage.account != pipeline_config.account for stage in stage_configs)
        spec = buildspec_file.load()

        self.storage = ArtifactStorage(self, "Storage", cross_account=cross_account)
        self.notifications = PipelineNotifications(self, "Notifications", email=pipeline_config.notification_email)
        self.source = pipelines.CodePipelineSource.connection(
            pipeline_config.repository, pipeline_config.branch, connection_arn=pipeline_config.connection_arn
        )
        self.synth_step = pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            install_commands=spec.install_commands,
            commands=spec.commands,
            env=spec.variables,
            partial_build_spec=codebuild.BuildSpec.from_object(spec.partial_build_spec()),
            primary_output_directory="cdk.out",
            build_environment=GATES_ENVIRONMENT,
            timeout=Duration.minutes(60),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="download-service",
            pipeline_type=codepipeline.PipelineType.V2,
            synth=self.synth_step,
            self_mutation=True,
            publish_assets_in_parallel=False,
            cli_version=cdk_cli_version(),
            cdk_assets_cli_version=CDK_ASSETS_VERSION,
            cross_account_keys=cross_account,
            enable_key_rotation=cross_account or None,
            artifact_bucket=self.storage.bucket,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                logging=ArtifactStorage.logging_to(self.storage.build_logs),
            ),
        )

        self.stages: list[ServiceStage] = []
        previous: ServiceStage | None = None
        for stage_config in stage_configs:
            stage = ServiceStage(self, stage_config)
            pre: list[pipelines.Step] = []
            if previous is None:
                # The image the Assets stage just pushed is judged by its scan findings before anything runs it.
                pre.append(self._image_gate(stage))
            else:
                # The approval is a pipeline stage of its own, so the promoted stage's entry condition is evaluated
                # after it (pipeline/conditions.py): an alarm that starts while the approval waits still stops it.
                self.pipeline.add_wave(
                    conditions.approval_stage_name(stage_config),
                    pre=[
                        LinkedApprovalStep(
                            APPROVAL_ACTION,
                            review_output=previous.service_url_output,
                            topic=self.notifications.topic,
                            comment=(
                                f"Deploy to {stage_config.name}? {previous.config.name} passed its smoke tests; "
                                f"{stage_config.name} starts only while {previous.config.name}'s critical alarm is "
                                f"not in ALARM: {conditions.alarm_console_url(previous.config)}"
                            ),
                        )
                    ],
                )
            dns_check = self._dns_check(stage_config)
            if dns_check is not None:
                pre.append(dns_check)
            self.pipeline.add_stage(stage, pre=pipelines.Step.sequence(pre), post=[self._smoke(stage)])
            self.stages.append(stage)
            previous = stage

        self.pipeline.build_pipeline()
        sub_for_action_role_arns(self.pipeline.pipeline)
        access.scope_asset_roles(self.pipeline)
        access.allow_codeconnections(self.pipeline.pipeline, pipeline_config.connection_arn)
        self.storage.restrict_writes(access.artifact_writers(self.pipeline), [access.auto_delete_role_arn(self)])
        self.approvers = ApproversPolicy(self, "Approvers", pipeline=self.pipeline.pipeline)
        for before, after in itertools.pairwise(stage_configs):
            conditions.gate(self.pipeline.pipeline, after, previous=before)
        self.notifications.watch(self.pipeline.pipeline)
        self.pull_requests = PullRequestValidation(
            self,
            "PullRequests",
            config=pipeline_config,
            environment=GATES_ENVIRONMENT,
            encryption_key=self.storage.key,
            logging=ArtifactStorage.logging_to(self.storage.pull_request_logs),
        )
        framework.govern(self, ArtifactStorage.log_group)
        keys.let_cloudformation_manage_keys(self)
        acknowledge_pipeline(self)

    def _image_gate(self, stage: ServiceStage) -> pipelines.CodeBuildStep:
        config = stage.config
        return image_gate_step(
            input=self.source,
            repository_name=asset_repository(config.account, config.region),
            image_tag=stage.stateless.service.image_asset.asset_hash,
            account=config.account,
            region=config.region,
        )

    def _smoke(self, stage: ServiceStage) -> pipelines.CodeBuildStep:
        """tests/smoke against the stage that was just deployed (URL from its output, the seeded canary object)."""
        return pipelines.CodeBuildStep(
            "Smoke",
            input=self.source,
            install_commands=["make venv"],
            commands=["make smoke"],
            env={"SMOKE_OBJECT_KEY": CANARY_KEY, "SMOKE_OBJECT_SHA256": canary_sha256()},
            env_from_cfn_outputs={"SMOKE_BASE_URL": stage.service_url_output},
            partial_build_spec=codebuild.BuildSpec.from_object(
                {"phases": {"install": {"runtime-versions": {"python": "3.12"}}}}
            ),
            timeout=Duration.minutes(15),
        )

    def _dns_check(self, stage: StageConfig) -> pipelines.CodeBuildStep | None:
        """Before a stage with a domain: is its hosted zone delegated? (else ACM validation hangs for hours).
        Only where the pipeline's account can read the zone (the stage shares the pipeline's account)."""
        zone = stage.domain.hosted_zone
        if zone is None:
            return None
        if stage.account != self.config.account:
            Annotations.of(self).add_warning_v2(
                "download-service:dns-unchecked",
                f"Stage {stage.name!r} is in account {stage.account}, not the pipeline's: the pipeline cannot check "
                f"that hosted zone {zone.name} is delegated. Run `make check-dns STAGE={stage.name}` "
                "with that account's credentials before its first deployment.",
            )
            return None
        return pipelines.CodeBuildStep(
            "CheckDns",
            input=self.source,
            install_commands=["make venv"],
            commands=[f"make check-dns STAGE={stage.name}"],
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=["route53:GetHostedZone"],
                    resources=[f"arn:{self.partition}:route53:::hostedzone/{zone.id}"],
                )
            ],
            partial_build_spec=codebuild.BuildSpec.from_object(
                {"phases": {"install": {"runtime-versions": {"python": "3.12"}}}}
            ),
            timeout=Duration.minutes(10),
        )
