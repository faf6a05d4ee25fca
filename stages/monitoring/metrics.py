"""What the dashboard segments and their alarms share: periods, comparison shorthands and the metric math."""

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


TargetGroups = tuple[elbv2.ApplicationTargetGroup, ...]


def five_xx_rate(
    load_balancer: elbv2.ApplicationLoadBalancer, target_groups: TargetGroups, period: Duration
) -> cloudwatch.MathExpression:
    """(ELB 5xx + every target group's target 5xx) / requests, in percent; 0 below `min_requests_for_rate(period)`.

    The ALB publishes its 5xx counts only for periods that had some, and metric math drops a datapoint when one
    input is missing: without FILL, a release whose tasks answer 500s (target 5xx, no ELB 5xx) would read "no data".
    Both target groups of a progressive release count: after a release the live one may be either.
    """
    metrics = load_balancer.metrics
    targets = {
        f"target5xx{index}": group.metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=period, statistic="Sum"
        )
        for index, group in enumerate(target_groups)
    }
    target_sum = " + ".join(f"FILL({name}, 0)" for name in targets)
    return cloudwatch.MathExpression(
        expression=(
            f"IF(FILL(requests, 0) >= {min_requests_for_rate(period)}, "
            f"100 * (FILL(elb5xx, 0) + {target_sum}) / FILL(requests, 1), 0)"
        ),
        using_metrics={
            "requests": metrics.request_count(period=period, statistic="Sum"),
            "elb5xx": metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, statistic="Sum"),
            **targets,
        },
        label="5xx rate (%)",
        period=period,
    )


def unhealthy_hosts(target_groups: TargetGroups) -> cloudwatch.IMetric:
    """Unhealthy targets over every target group (a progressive release's tasks may be in either)."""
    if len(target_groups) == 1:
        return target_groups[0].metrics.unhealthy_host_count(period=MINUTE, statistic="Maximum", label="Unhealthy")
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL(unhealthy{index}, 0)" for index in range(len(target_groups))),
        using_metrics={
            f"unhealthy{index}": group.metrics.unhealthy_host_count(period=MINUTE, statistic="Maximum")
            for index, group in enumerate(target_groups)
        },
        label="Unhealthy",
        period=MINUTE,
    )


def release_5xx_rate(namespace: str, version: str, period: Duration) -> cloudwatch.MathExpression:
    """This release's own 5xx rate: the service's access log lines of `version` (stages/monitoring/logs.py
    RELEASE_METRICS), in percent; 0 below `min_requests_for_rate(period)`. Errors of the revision being replaced,
    or of the load balancer, do not count, so a hotfix is judged by what it serves itself."""

    def count(name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace, metric_name=name, dimensions_map={"Version": version}, statistic="Sum", period=period
        )

    return cloudwatch.MathExpression(
        expression=(
            f"IF(FILL(requests, 0) >= {min_requests_for_rate(period)}, 100 * FILL(errors, 0) / FILL(requests, 1), 0)"
        ),
        using_metrics={"requests": count("ReleaseRequests"), "errors": count("Release5xx")},
        label=f"5xx rate of release {version} (%)",
        period=period,
    )
