"""The canary object: a small file every stage seeds into its files bucket, so the smoke suite never depends on
user data. The key and SHA-256 are defined here only; the pipeline's smoke steps read them from this module.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from .common import nag
from .common.retention import stage_log_group
from .config import LogsConfig

#: Outside the image's .dockerignore allowlist: it never changes the image.
CANARY_FILE = Path(__file__).resolve().parent.parent / "canary" / "smoke-canary.txt"
#: Where the service finds it, relative to the stage's files_prefix (what a client puts after /files/).
CANARY_PREFIX = "_canary/"
CANARY_KEY = CANARY_PREFIX + CANARY_FILE.name


def canary_sha256() -> str:
    return hashlib.sha256(CANARY_FILE.read_bytes()).hexdigest()


class Canary(Construct):
    """Writes canary/smoke-canary.txt to ``<files_prefix>_canary/`` in the stage's files bucket.

    One `s3:PutObject` through CDK's AwsCustomResource, whose function may write that one key and nothing else (a
    BucketDeployment would get read/write/delete on every object of the bucket). Re-written whenever the file
    changes; left in place when the stack is deleted (the bucket's own removal policy decides).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, bucket_name: str, files_prefix: str, logs: LogsConfig
    ) -> None:
        super().__init__(scope, construct_id)
        bucket = s3.Bucket.from_bucket_name(self, "FilesBucket", bucket_name)
        self.key = CANARY_KEY
        self.sha256 = canary_sha256()
        self.object_key = files_prefix + CANARY_KEY
        put = cr.AwsSdkCall(
            service="S3",
            action="putObject",
            parameters={
                "Bucket": bucket_name,
                "Key": self.object_key,
                "Body": CANARY_FILE.read_text(encoding="utf-8"),
                "ContentType": "text/plain; charset=utf-8",
            },
            # A new id when the content changes: CloudFormation then runs the update, which puts the new body.
            physical_resource_id=cr.PhysicalResourceId.of(f"{self.object_key}@{self.sha256[:16]}"),
        )
        self.writer = cr.AwsCustomResource(
            self,
            "Put",
            on_create=put,
            on_update=put,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(self.object_key)])]
            ),
            install_latest_aws_sdk=False,  # the runtime's SDK: no npm install from the internet at deploy time
            log_group=stage_log_group(self, "WriterLogs", logs),
        )
        nag.acknowledge(
            self._provider_role(),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "AWSLambdaBasicExecutionRole only lets the deploy-time writer function send its own CloudWatch Logs.",
        )

    def _provider_role(self) -> Construct:
        """The AwsCustomResource singleton function's role (a child of the stack, shared by the stack's calls)."""
        stack = Stack.of(self)
        function = next(c for c in stack.node.children if c.node.id.startswith("AWS679f53fac002430cb0da5b7982bd2287"))
        return function.node.find_child("ServiceRole")
