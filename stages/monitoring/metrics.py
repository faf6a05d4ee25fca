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


def log_count(namespace: str, name: str, period: Duration, **dimensions: str) -> cloudwatch.Metric:
    """The Sum of one of the service's log metric filters (stages/monitoring/logs.py LOG_METRICS)."""
    return cloudwatch.Metric(
        namespace=namespace, metric_name=name, dimensions_map=dimensions or None, statistic="Sum", period=period
    )


def five_xx_rate(
    load_balancer: elbv2.ApplicationLoadBalancer, namespace: str, period: Duration
) -> cloudwatch.MathExpression:
    """(the load balancer's own 5xx + the service's server errors) / requests, in percent; 0 below
    `min_requests_for_rate(period)`.

    Server errors are the access lines the `Http5xx` filter counts: every task of the service, whichever target group
    it is in, but not the refusals the service chooses (a client over its share: 429; a worker at capacity: 503 with
    `refused` on its line). The ALB's HTTPCode_Target_5XX_Count would count that busy 503 like any other, so any
    client could raise it by asking for more than the service admits; it is on the dashboard, never alarmed.
    HTTPCode_ELB_5XX_Count is what the load balancer itself answered (no healthy target, a target that failed or
    timed out: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).
    The ALB publishes its 5xx count only for periods that had some, and metric math drops a datapoint when one input
    is missing: every input is FILLed.
    """
    metrics = load_balancer.metrics
    return cloudwatch.MathExpression(
        expression=(
            f"IF(FILL(requests, 0) >= {min_requests_for_rate(period)}, "
            "100 * (FILL(elb5xx, 0) + FILL(server5xx, 0)) / FILL(requests, 1), 0)"
        ),
        using_metrics={
            "requests": metrics.request_count(period=period, statistic="Sum"),
            "elb5xx": metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, statistic="Sum"),
            "server5xx": log_count(namespace, "Http5xx", period),
        },
        label="5xx rate (%)",
        period=period,
    )


def unhealthy_hosts(target_groups: TargetGroups) -> cloudwatch.IMetric:
    """Unhealthy targets over every target group (a progressive release's tasks may be in either)."""
    return _over_groups(target_groups, "unhealthy", "Maximum", "Unhealthy")


def healthy_hosts(target_groups: TargetGroups) -> cloudwatch.IMetric:
    """Healthy targets over every target group, each group's lowest in the minute: the tasks that serve, read from
    the load balancer (AWS/ApplicationELB publishes it whatever the cluster's Container Insights setting)."""
    return _over_groups(target_groups, "healthy", "Minimum", "Healthy targets")


def _over_groups(target_groups: TargetGroups, kind: str, statistic: str, label: str) -> cloudwatch.IMetric:
    def metric(group: elbv2.IApplicationTargetGroup, **props: str) -> cloudwatch.Metric:
        count = group.metrics.healthy_host_count if kind == "healthy" else group.metrics.unhealthy_host_count
        return count(period=MINUTE, statistic=statistic, **props)

    if len(target_groups) == 1:
        return metric(target_groups[0], label=label)
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({kind}{index}, 0)" for index in range(len(target_groups))),
        using_metrics={f"{kind}{index}": metric(group) for index, group in enumerate(target_groups)},
        label=label,
        period=MINUTE,
    )


def release_5xx_rate(namespace: str, version: str, period: Duration) -> cloudwatch.MathExpression:
    """This release's own server-error rate: the service's access lines of `version` (stages/monitoring/logs.py
    Release5xx / ReleaseRequests; refusals the service chooses are not errors), in percent; 0 below
    `min_requests_for_rate(period)`. Errors of the revision being replaced, or of the load balancer, do not count,
    so a hotfix is judged by what it serves itself."""
    return cloudwatch.MathExpression(
        expression=(
            f"IF(FILL(requests, 0) >= {min_requests_for_rate(period)}, 100 * FILL(errors, 0) / FILL(requests, 1), 0)"
        ),
        using_metrics={
            "requests": log_count(namespace, "ReleaseRequests", period, Version=version),
            "errors": log_count(namespace, "Release5xx", period, Version=version),
        },
        label=f"5xx rate of release {version} (%)",
        period=period,
    )
