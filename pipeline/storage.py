"""The pipeline's artifact bucket and the bucket its access logs go to."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stages.common.buckets import private_bucket

#: Artifacts are only read during the execution that wrote them; keep a month for debugging a failed run.
ARTIFACT_DAYS = 30


class ArtifactStorage(Construct):
    """`bucket`: the pipeline's artifact store. SSE-S3 when every stage lives in the pipeline's account; a
    customer-managed, rotated KMS key (`key`) when a stage lives elsewhere — other accounts' deploy roles can only
    read artifacts encrypted with a key whose policy names them (the pipeline adds those grants).

    Both buckets are emptied and deleted with the stack: artifacts are reproducible from git.
    """

    def __init__(self, scope: Construct, construct_id: str, *, cross_account: bool) -> None:
        super().__init__(scope, construct_id)
        self.log_bucket = private_bucket(
            self,
            "AccessLogs",
            retain=False,
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=Duration.days(90))],
        )
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
            encryption=s3.BucketEncryption.KMS if self.key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.key,
            bucket_key_enabled=self.key is not None,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-artifacts",
                    expiration=Duration.days(ARTIFACT_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
