"""The release hook: the Lambda that ECS runs at POST_TEST_TRAFFIC_SHIFT to smoke-test a new revision alone.

Its code is `canary/` (the checks `tests/smoke` runs too, and the handler), packaged from the repository so the
function imports `canary.hook` exactly as the tests do.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, IgnoreMode
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .common import nag
from .common.retention import stage_log_group
from .config import LogsConfig
from .release_routing import ReleaseRouting

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The newest Python the Lambda runtime offers in aws-cdk-lib 2.275 (cdk-nag's L1 asks for the latest).
RUNTIME = lambda_.Runtime.PYTHON_3_14
#: Only the canary package goes into the function: its checks and handler, no data, no caches (.dockerignore
#: semantics: exclude everything, then let the package's modules back in).
CODE_EXCLUDES = ["*", "!canary/*.py"]
IGNORE_MODE = IgnoreMode.DOCKER


def canary_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(REPO_ROOT), exclude=CODE_EXCLUDES, ignore_mode=IGNORE_MODE)


class ReleaseHook(Construct):
    """A function outside the VPC (the test listener is on the internet-facing ALB) that may change the test rule's
    conditions and nothing else; it checks `object_key` (SHA-256 `object_sha256`) through `routing.test_url`.

    `function` is the hook target; ECS's own role to invoke it is created by the service (lifecycle hook).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routing: ReleaseRouting,
        logs: LogsConfig,
        object_key: str,
        object_sha256: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = stage_log_group(self, "Logs", logs)
        self.function = lambda_.Function(
            self,
            "Function",
            description="Smoke-tests a new service revision through the test listener before it takes traffic",
            runtime=RUNTIME,
            handler="canary.hook.handler",
            code=canary_code(),
            # Waits for the test rule to take the token, then a handful of requests; IN_PROGRESS covers the rest.
            timeout=Duration.minutes(2),
            memory_size=256,
            log_group=self.log_group,
            environment={
                "TEST_BASE_URL": routing.test_url,
                "TEST_RULE_ARN": routing.test_rule.listener_rule_arn,
                "OBJECT_KEY": object_key,
                "OBJECT_SHA256": object_sha256,
            },
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="UnlockAndLockTheTestRule",
                actions=["elasticloadbalancing:ModifyRule"],
                resources=[routing.test_rule.listener_rule_arn],
            )
        )
        nag.acknowledge(
            self.function.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "AWSLambdaBasicExecutionRole only lets the release hook write its own CloudWatch Logs.",
        )
