"""Everything that holds data and must outlive a redeploy of the stateless stack."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from .config import LogsConfig
from .storage import Storage


class StatefulStack(Stack):
    """The files bucket and the log bucket; `production` keeps both (RETAIN) and protects the stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        files_prefix: str,
        production: bool,
        logs: LogsConfig,
        **kwargs: Any,
    ) -> None:
        # Honoured by `cdk deploy`; CDK Pipelines' change-set deploys drop it (aws-cdk#17871): README's one-time
        # `update-termination-protection` covers the pipeline. RETAIN on the buckets protects the data either way.
        super().__init__(scope, construct_id, termination_protection=production, **kwargs)
        self.storage = Storage(
            self, "Storage", bucket_name=bucket_name, files_prefix=files_prefix, retain=production, logs=logs
        )
        self.files_bucket = self.storage.files_bucket
        self.log_bucket = self.storage.log_bucket
        self.bucket_name_output = CfnOutput(
            self, "FilesBucketName", value=self.files_bucket.bucket_name, description="Bucket the service serves"
        )
        CfnOutput(
            self,
            "PublisherPolicyArn",
            value=self.storage.publisher.managed_policy_arn,
            description="Attach to whoever publishes files (write under the prefix, SSE-S3)",
        )
