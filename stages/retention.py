"""Map the config's retention in days to the CDK enum (CloudWatch Logs accepts only these periods)."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from .config import LOG_RETENTION_DAYS

# aws_logs.RetentionDays lists the periods in increasing order, INFINITE last.
_BY_DAYS = dict(
    zip(LOG_RETENTION_DAYS, [m for m in logs.RetentionDays if m is not logs.RetentionDays.INFINITE], strict=True)
)


def retention_days(days: int) -> logs.RetentionDays:
    return _BY_DAYS[days]
