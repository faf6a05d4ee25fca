"""How long a stage keeps what it writes: log retention periods and what stack deletion does to stored data."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..config import LOG_RETENTION_DAYS, LogsConfig
from . import checkov

#: Why no log group of this project has its own KMS key (checkov CKV_AWS_158).
LOG_GROUP_KMS_REASON = (
    "CloudWatch Logs encrypts every log group at rest (AES-256, service-managed keys); a customer-managed key would "
    "add a key policy naming the logs service and a monthly key cost, while who may read these logs is decided by "
    "IAM (logs:GetLogEvents, logs:StartQuery) either way."
)

# aws_logs.RetentionDays lists the periods in increasing order, INFINITE last.
_BY_DAYS = dict(
    zip(LOG_RETENTION_DAYS, [m for m in logs.RetentionDays if m is not logs.RetentionDays.INFINITE], strict=True)
)


def retention_days(days: int) -> logs.RetentionDays:
    """The config's retention in days as the CDK enum (CloudWatch Logs accepts only these periods)."""
    return _BY_DAYS[days]


def removal_policy(retain: bool) -> RemovalPolicy:
    """RETAIN keeps the resource when its stack is deleted (production); DESTROY lets a sandbox go in one command."""
    return RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY


def retained_log_group(scope: Construct, construct_id: str, *, days: int, retain: bool) -> logs.LogGroup:
    """A log group that expires its events after `days` (never "forever"); `retain` keeps it after stack deletion."""
    group = logs.LogGroup(scope, construct_id, retention=retention_days(days), removal_policy=removal_policy(retain))
    checkov.skip(group, "CKV_AWS_158", LOG_GROUP_KMS_REASON)
    return group


def stage_log_group(scope: Construct, construct_id: str, config: LogsConfig) -> logs.LogGroup:
    """A log group kept for the stage's `log_retention_days`, and kept after stack deletion in production."""
    return retained_log_group(scope, construct_id, days=config.retention_days, retain=config.retain)
