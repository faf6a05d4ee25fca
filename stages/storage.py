"""Stateful storage: the files bucket the service reads and the bucket every access log lands in."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import StageConfig


class Storage(Construct):
    """Two SSE-S3 buckets: `files_bucket` (served objects) and `log_bucket` (S3 server access logs + ALB logs).

    Production keeps both on stack deletion (RETAIN); other stages empty and delete them so a sandbox can be torn
    down with one command. SSE-S3 rather than KMS: ALB access logs only support SSE-S3, and a KMS key on the files
    bucket would add kms:Decrypt to the task role and a KMS interface endpoint to the NAT-less VPC for no gain here.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        retain = config.production
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY

        self.log_bucket = s3.Bucket(
            self,
            "LogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-logs",
                    expiration=Duration.days(config.log_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=not retain,
        )
        # No server access logging on the log bucket itself (it would log into itself); cdk-nag's S1 accepts
        # a bucket that is another bucket's log destination, so nothing to acknowledge here.

        self.files_bucket = s3.Bucket(
            self,
            "FilesBucket",
            bucket_name=config.files_bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/files/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=Duration.days(90),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=not retain,
        )
