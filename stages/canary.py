"""The canary object: a small file every stage seeds into its files bucket, so the smoke suite never depends on
user data. The key and SHA-256 are defined here only; the pipeline's smoke steps read them from this module.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from . import nag
from .config import StageConfig

#: The directory deployed as is (one file). Outside the image's .dockerignore allowlist: it never changes the image.
CANARY_DIR = Path(__file__).resolve().parent.parent / "canary"
CANARY_FILE = CANARY_DIR / "smoke-canary.txt"
#: Where the service finds it, relative to the stage's files_prefix (what a client puts after /files/).
CANARY_PREFIX = "_canary/"
CANARY_KEY = CANARY_PREFIX + CANARY_FILE.name


def canary_sha256() -> str:
    return hashlib.sha256(CANARY_FILE.read_bytes()).hexdigest()


class Canary(Construct):
    """Copies canary/ to ``<files_prefix>_canary/`` in the stage's files bucket on every deployment.

    A BucketDeployment (CDK's Lambda-backed custom resource): it replaces exactly that prefix (prune) and leaves
    the object in place when the stack is deleted (the bucket's own removal policy decides).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        bucket = s3.Bucket.from_bucket_name(self, "FilesBucket", config.files_bucket_name)
        self.key = CANARY_KEY
        self.sha256 = canary_sha256()
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            sources=[s3deploy.Source.asset(str(CANARY_DIR))],
            destination_bucket=bucket,
            destination_key_prefix=config.files_prefix + CANARY_PREFIX,
            prune=True,
            retain_on_delete=True,
            memory_limit=256,
        )
        self._acknowledge(config)

    def _acknowledge(self, config: StageConfig) -> None:
        """BucketDeployment's handler (a CDK singleton per stack) comes with CDK's own role and runtime."""
        stack = Stack.of(self)
        handler = next(c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment"))
        nag.acknowledge(
            handler,
            "AwsSolutions-L1",
            "BucketDeployment's handler runtime is pinned by aws-cdk-lib and moves with CDK upgrades; it runs only "
            "while CloudFormation deploys this stack and has no trigger or URL of its own.",
        )
        nag.acknowledge(
            self.deployment.handler_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "AWSLambdaBasicExecutionRole only lets the deploy-time copy handler write its own CloudWatch Logs.",
        )
        files = f"arn:{stack.partition}:s3:::{config.files_bucket_name}/*"

        def reason(finding: str, actions: list[str]) -> str:
            if finding.startswith("Resource::") and finding.endswith(f":s3:::{config.files_bucket_name}/*"):
                return (
                    f"CDK grants BucketDeployment read/write on this stage's files bucket objects; the handler only "
                    f"writes and prunes {config.files_prefix}{CANARY_PREFIX} ({', '.join(actions)})."
                )
            if finding.startswith("Resource::"):
                return "The handler reads the canary's zipped source from the CDK bootstrap assets bucket (objects)."
            return (
                f"{finding[8:]} is CDK's read/write action group for copying the canary asset into {files} "
                "(get/list the source zip, put and prune the canary prefix)."
            )

        policy = self.deployment.handler_role.node.find_child("DefaultPolicy").node.default_child
        nag.acknowledge_wildcards(policy, reason)
