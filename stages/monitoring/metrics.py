"""What the dashboard segments and their alarms share: periods, comparison shorthands, the 5xx-rate metric math and
the deployment alarms' fixed names."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2

Op = cloudwatch.ComparisonOperator
Missing = cloudwatch.TreatMissingData
MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)

#: Below this many requests a minute the 5xx rate is reported as 0: two failures out of three requests in a quiet
#: dev stage are not an outage. Scaled to each alarm's period (20 in 5 minutes, 4 in the deployment alarms' minute),
#: so the 1-minute deployment alarm can still roll back a release that a trickle of traffic finds broken.
MIN_REQUESTS_PER_MINUTE_FOR_RATE = 4


def min_requests_for_rate(period: Duration) -> int:
    return max(1, round(MIN_REQUESTS_PER_MINUTE_FOR_RATE * period.to_seconds() / 60))


def deployment_alarm_names(prefix: str) -> dict[str, str]:
    """Fixed names, so the ECS service refers to its deployment alarms by plain string (no reference, no cycle)."""
    return {"5xx": f"{prefix}-Deployment-5xx-Rate", "unhealthy": f"{prefix}-Deployment-Unhealthy-Hosts"}


def five_xx_rate(
    load_balancer: elbv2.ApplicationLoadBalancer, target_group: elbv2.ApplicationTargetGroup, period: Duration
) -> cloudwatch.MathExpression:
    """(ELB 5xx + target 5xx) / requests, in percent; 0 below `min_requests_for_rate(period)` requests.

    The ALB publishes its 5xx counts only for periods that had some, and metric math drops a datapoint when one
    input is missing: without FILL, a release whose tasks answer 500s (target 5xx, no ELB 5xx) would read "no data".
    """
    metrics = load_balancer.metrics
    return cloudwatch.MathExpression(
        expression=(
            f"IF(FILL(requests, 0) >= {min_requests_for_rate(period)}, "
            "100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / FILL(requests, 1), 0)"
        ),
        using_metrics={
            "requests": metrics.request_count(period=period, statistic="Sum"),
            "elb5xx": metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, statistic="Sum"),
            "target5xx": target_group.metrics.http_code_target(
                elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=period, statistic="Sum"
            ),
        },
        label="5xx rate (%)",
        period=period,
    )
