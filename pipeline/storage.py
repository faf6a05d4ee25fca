"""What the pipeline keeps: its artifact bucket, the bucket its access logs go to, and its build logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stages.common import checkov
from stages.common.buckets import private_bucket
from stages.common.retention import retained_log_group

#: Artifacts are only read during the execution that wrote them; keep a month for debugging a failed run.
ARTIFACT_DAYS = 30
#: An overwritten or deleted artifact stays readable as a noncurrent version this long (what was really deployed).
NONCURRENT_DAYS = 30
#: Build logs say what each release ran (tests, synth, deploys); kept as long as the artifact bucket's access logs.
LOG_DAYS = 90
#: Every way to change an object (content, ACLs, tags, retention, legal hold, replicas) and to remove one.
OBJECT_WRITES = ["s3:PutObject*", "s3:Replicate*"]
OBJECT_DELETES = ["s3:DeleteObject*"]


class ArtifactStorage(Construct):
    """`bucket`: the pipeline's artifact store, versioned. SSE-S3 when every stage lives in the pipeline's account; a
    customer-managed, rotated KMS key (`key`) when a stage lives elsewhere — other accounts' deploy roles can only
    read artifacts encrypted with a key whose policy names them (the pipeline adds those grants).

    Both buckets are emptied and deleted with the stack: artifacts are reproducible from git. `log_group` makes the
    pipeline's retained log groups (kept after a teardown; they still expire).
    """

    def __init__(self, scope: Construct, construct_id: str, *, cross_account: bool) -> None:
        super().__init__(scope, construct_id)
        self.log_bucket = private_bucket(
            self,
            "AccessLogs",
            retain=False,
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=Duration.days(LOG_DAYS))],
        )
        checkov.skip_all(self.log_bucket, checkov.ACCESS_LOG_BUCKET)
        self.key = (
            kms.Key(
                self,
                "Key",
                description="download-service pipeline artifacts (cross-account stages)",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.DESTROY,
            )
            if cross_account
            else None
        )
        self.bucket = private_bucket(
            self,
            "Artifacts",
            retain=False,
            versioned=True,
            encryption=s3.BucketEncryption.KMS if self.key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.key,
            bucket_key_enabled=self.key is not None,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-artifacts",
                    expiration=Duration.days(ARTIFACT_DAYS),
                    noncurrent_version_expiration=Duration.days(NONCURRENT_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                # Expiring a current version leaves a delete marker; once its versions are gone, drop it too.
                s3.LifecycleRule(id="remove-delete-markers", expired_object_delete_marker=True),
            ],
        )
        self.build_logs = self.log_group(self, "BuildLogs")
        # A pull request's build runs that PR's own buildspec.yml: its own group, so it cannot write into the
        # pipeline's build logs (the record of what each release ran).
        self.pull_request_logs = self.log_group(self, "PullRequestLogs")

    @staticmethod
    def log_group(scope: Construct, construct_id: str) -> logs.LogGroup:
        return retained_log_group(scope, construct_id, days=LOG_DAYS, retain=True)

    @staticmethod
    def logging_to(group: logs.ILogGroup) -> codebuild.LoggingOptions:
        """CodeBuild's CloudWatch Logs settings for a project writing to `group` instead of a never-expiring
        /aws/codebuild/<project> group."""
        return codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=group))

    def restrict_writes(self, writers: list[iam.IRole], deleters: list[str]) -> None:
        """Deny every object write to anyone but `writers` (the pipeline's roles that store artifacts), and every
        delete to anyone but them and the `deleters` (role ARNs: the stack's auto-delete function). An
        administrator of the account cannot swap an artifact between the build and the deployment either."""
        writer_arns = [role.role_arn for role in writers]
        for sid, actions, exempt in (
            ("OnlyThePipelineWritesArtifacts", OBJECT_WRITES, writer_arns),
            ("OnlyThePipelineDeletesArtifacts", OBJECT_DELETES, [*writer_arns, *deleters]),
        ):
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=actions,
                    resources=[self.bucket.arn_for_objects("*")],
                    conditions={"ArnNotEquals": {"aws:PrincipalArn": exempt}},
                )
            )
