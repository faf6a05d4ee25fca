"""The stage's synthetic probe: a CloudWatch Synthetics canary that checks the public URL between releases.

Every few minutes, from outside the VPC as a client would: `/health` and the seeded canary object, byte-exact by
SHA-256, with the same checks the smoke suite and the release hook run (canary/checks.py through canary/probe.py).
Monitoring alarms on its success rate and on its silence (stages/monitoring/probe.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, Duration, ILocalBundling
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_synthetics as synthetics
from constructs import Construct

from .canary import CANARY_KEY, canary_sha256
from .common import nag
from .common.buckets import private_bucket
from .config import ProbeConfig
from .release_hook import CODE_EXCLUDES, IGNORE_MODE, REPO_ROOT

#: The newest Python runtime of Synthetics (Python 3.12, the image's minor), by its string name: aws-cdk-lib's enum
#: stops at 7.0, and CreateCanary refuses a deprecated runtime. The list and the support policy:
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Library_python_selenium.html
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Runtime_Support_Policy.html
#: The probe needs no browser, only the stdlib.
RUNTIME_NAME = "syn-python-selenium-14.0"
RUNTIME = synthetics.Runtime(RUNTIME_NAME, synthetics.RuntimeFamily.PYTHON)
#: Synthetics loads a Python canary's handler from python/<file>.py: this file re-exports canary.probe.handler.
ENTRY_MODULE = "probe_entry"


@jsii.implements(ILocalBundling)
class _PythonFolder:
    """Synthetics wants the code under python/: copy the canary package there, with the entry module beside it."""

    def try_bundle(self, output_dir: str, options: object) -> bool:
        target = Path(output_dir) / "python"
        shutil.copytree(
            REPO_ROOT / "canary", target / "canary", ignore=shutil.ignore_patterns("__pycache__", "*.txt", "*.pyc")
        )
        (target / f"{ENTRY_MODULE}.py").write_text("from canary.probe import handler  # noqa: F401\n")
        return True


#: Why each wildcard in the role Synthetics writes for a canary is acceptable, by action.
PROBE_WILDCARDS = {
    "s3:ListAllMyBuckets": "The Synthetics runtime lists buckets to find its artifacts bucket; it reads no object.",
    "cloudwatch:PutMetricData": "Metrics only into the CloudWatchSynthetics namespace (a condition of the statement).",
    "s3:PutObject": "Run artifacts (screenshots, logs, reports) under keys the runtime names per run, in this probe's "
    "own artifacts bucket.",
    "logs:CreateLogGroup": "The log group Synthetics creates for the canary's function "
    "(/aws/lambda/cwsyn-<name>-<id>).",
}


def _probe_reason(finding: str, actions: list[str]) -> str:
    unknown = [action for action in actions if action not in PROBE_WILDCARDS and not action.startswith("logs:")]
    if unknown:
        raise ValueError(f"no reason on record for AwsSolutions-IAM5[{finding}] ({', '.join(unknown)})")
    return " ".join(PROBE_WILDCARDS.get(action, "") for action in actions).strip()


class Probe(Construct):
    """`canary` checks `url` every `every`; its run artifacts (logs, reports) expire after a month."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, url: str, log_bucket: s3.IBucket, config: ProbeConfig
    ) -> None:
        super().__init__(scope, construct_id)
        self.every = Duration.minutes(config.every_minutes)
        self.artifacts = private_bucket(
            self,
            "Artifacts",
            retain=False,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="s3/probe/",
            lifecycle_rules=[s3.LifecycleRule(id="expire-runs", expiration=Duration.days(30))],
        )
        code = synthetics.Code.from_asset(
            str(REPO_ROOT),
            exclude=CODE_EXCLUDES,
            ignore_mode=IGNORE_MODE,
            bundling=BundlingOptions(image=DockerImage.from_registry("unused-local-bundling"), local=_PythonFolder()),
        )
        self.canary = synthetics.Canary(
            self,
            "Canary",
            canary_name=name,
            runtime=RUNTIME,
            test=synthetics.Test.custom(code=code, handler=f"{ENTRY_MODULE}.handler"),
            schedule=synthetics.Schedule.rate(self.every),
            timeout=Duration.minutes(1),
            environment_variables={"PROBE_BASE_URL": url, "OBJECT_KEY": CANARY_KEY, "OBJECT_SHA256": canary_sha256()},
            artifacts_bucket_location=synthetics.ArtifactsBucketLocation(bucket=self.artifacts),
            start_after_creation=True,
            success_retention_period=Duration.days(7),
            failure_retention_period=Duration.days(30),
            provisioned_resource_cleanup=True,
        )
        nag.acknowledge_wildcards(self.canary.role.node.default_child, _probe_reason)
