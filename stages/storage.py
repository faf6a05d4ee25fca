"""Stateful storage: the files bucket the service reads and the bucket every access log lands in."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .common import nag
from .common.buckets import private_bucket
from .config import LogsConfig


class Storage(Construct):
    """Two SSE-S3 buckets: `files_bucket` (served objects) and `log_bucket` (S3 server access logs + ALB logs).

    Production keeps both on stack deletion (RETAIN); other stages empty and delete them so a sandbox can be torn
    down with one command. SSE-S3 rather than KMS: ALB access logs only support SSE-S3, and a KMS key on the files
    bucket would add kms:Decrypt to the task role and a KMS interface endpoint to the NAT-less VPC for no gain here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        files_prefix: str,
        retain: bool,
        logs: LogsConfig,
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
        self._only_sse_s3_uploads()
        self.publisher = self._publisher(bucket_name, files_prefix)

    def _only_sse_s3_uploads(self) -> None:
        """The task can read SSE-S3 objects only: an SSE-KMS one needs kms:Decrypt it does not have (a 403, served
        as a 502), an SSE-C one the uploader's own key. Both are refused when they are written, not when read."""
        for sid, condition in (
            ("DenyUploadsNotSseS3", {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}}),
            ("DenyUploadsWithCustomerKeys", {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}),
        ):
            self.files_bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[self.files_bucket.arn_for_objects("*")],
                    conditions=condition,
                )
            )

    def _publisher(self, bucket_name: str, files_prefix: str) -> iam.ManagedPolicy:
        """The one documented way to publish files: write (and list) under the served prefix, SSE-S3 only.
        Attach it to whoever uploads; every object it writes is public to anyone who knows its key."""
        policy = iam.ManagedPolicy(
            self,
            "Publisher",
            managed_policy_name=f"{bucket_name.rsplit('-files-', 1)[0]}-publisher",
            description=f"Publish files to s3://{bucket_name}/{files_prefix} (SSE-S3): they are then downloadable",
            statements=[
                iam.PolicyStatement(
                    sid="WriteUnderThePrefix",
                    actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[self.files_bucket.arn_for_objects(f"{files_prefix}*")],
                    conditions={"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}},
                ),
                iam.PolicyStatement(
                    sid="ListThePrefix",
                    actions=["s3:ListBucket"],
                    resources=[self.files_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{files_prefix}*"]}},
                ),
            ],
        )
        nag.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(self.files_bucket.node.default_child)}"
            f".Arn>/{files_prefix}*]",
            "Publishers write any key under the served prefix (keys are the files' names); only there, SSE-S3 only.",
        )
        return policy
