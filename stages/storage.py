"""Stateful storage: the files bucket the service reads and the bucket every access log lands in."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .common.buckets import private_bucket
from .config import LogsConfig


class Storage(Construct):
    """Two SSE-S3 buckets: `files_bucket` (served objects) and `log_bucket` (S3 server access logs + ALB logs).

    Production keeps both on stack deletion (RETAIN); other stages empty and delete them so a sandbox can be torn
    down with one command. SSE-S3 rather than KMS: ALB access logs only support SSE-S3, and a KMS key on the files
    bucket would add kms:Decrypt to the task role and a KMS interface endpoint to the NAT-less VPC for no gain here.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, bucket_name: str, retain: bool, logs: LogsConfig
    ) -> None:
        super().__init__(scope, construct_id)

        self.log_bucket = private_bucket(
            self,
            "LogBucket",
            retain=retain,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-logs",
                    expiration=Duration.days(logs.retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        # No server access logging on the log bucket itself (it would log into itself); cdk-nag's S1 accepts
        # a bucket that is another bucket's log destination, so nothing to acknowledge here.

        self.files_bucket = private_bucket(
            self,
            "FilesBucket",
            retain=retain,
            bucket_name=bucket_name,
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
        )
