"""Dashboard segments and their alarms, added to a cdk-monitoring-constructs MonitoringFacade.

What the library covers is used as is (Fargate service + ALB target group: CPU, memory, task health, connections;
billing). What it lacks is built here with its custom monitor, so it still lands on the same dashboard with the same
alarm naming and SNS actions: ALB request count, 4xx/5xx, 5xx rate and target latency alarms (its issue #46), a
running-tasks-below-minimum alarm (its Fargate monitor only has Running-Tasks-High), desired/pending task counts,
and the ECS deployment alarms.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from cdk_monitoring_constructs import (
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    MonitoringFacade,
    UnhealthyTaskCountThreshold,
    UsageThreshold,
)

from ..config import StageConfig

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


def add_service_segments(
    facade: MonitoringFacade,
    *,
    config: StageConfig,
    prefix: str,
    service: ecs.FargateService,
    load_balancer: elbv2.ApplicationLoadBalancer,
    target_group: elbv2.ApplicationTargetGroup,
) -> None:
    """CPU, memory, task health and connections from the library; traffic, latency, tasks and deployment guards as
    custom segments. Alarms: CPU, memory, unhealthy hosts, running tasks, 5xx rate, p99 latency, deployment x2."""
    facade.monitor_fargate_application_load_balancer(
        fargate_service=service,
        application_load_balancer=load_balancer,
        application_target_group=target_group,
        human_readable_name="Fargate service",
        alarm_friendly_name="Service",
        min_auto_scaling_task_count=config.min_tasks,
        max_auto_scaling_task_count=config.max_tasks,
        add_cpu_usage_alarm={
            "Warning": UsageThreshold(
                max_usage_percent=config.alarm_cpu_percent, period=MINUTE, evaluation_periods=5, datapoints_to_alarm=5
            )
        },
        add_memory_usage_alarm={
            "Warning": UsageThreshold(
                max_usage_percent=config.alarm_memory_percent,
                period=MINUTE,
                evaluation_periods=5,
                datapoints_to_alarm=5,
            )
        },
        add_unhealthy_task_count_alarm={
            "Critical": UnhealthyTaskCountThreshold(
                max_unhealthy_tasks=0, period=MINUTE, evaluation_periods=5, datapoints_to_alarm=5
            )
        },
    )

    alb, targets = load_balancer.metrics, target_group.metrics
    latency = {p: targets.target_response_time(statistic=p, period=MINUTE, label=f"{p} (s)") for p in ("p50", "p90")}
    facade.monitor_custom(
        human_readable_name="Traffic (load balancer)",
        alarm_friendly_name="Traffic",
        metric_groups=[
            CustomMetricGroup(
                title="Requests",
                metrics=[
                    alb.request_count(period=MINUTE, statistic="Sum", label="Requests (ALB)"),
                    targets.request_count_per_target(period=MINUTE, statistic="Sum", label="Requests per target"),
                ],
            ),
            CustomMetricGroup(
                title="HTTP 4xx / 5xx",
                metrics=[
                    alb.http_code_elb(elbv2.HttpCodeElb.ELB_4XX_COUNT, period=MINUTE, statistic="Sum"),
                    alb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=MINUTE, statistic="Sum"),
                    targets.http_code_target(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, period=MINUTE, statistic="Sum"),
                    targets.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=MINUTE, statistic="Sum"),
                ],
            ),
            CustomMetricGroup(
                title="5xx rate",
                metrics=[
                    CustomMetricWithAlarm(
                        alarm_friendly_name="5xx-Rate",
                        metric=five_xx_rate(load_balancer, target_group, FIVE_MINUTES),
                        add_alarm={
                            "Critical": CustomThreshold(
                                threshold=config.alarm_5xx_percent,
                                comparison_operator=Op.GREATER_THAN_THRESHOLD,
                                evaluation_periods=1,
                                datapoints_to_alarm=1,
                                treat_missing_data_override=Missing.NOT_BREACHING,
                                additional_description="(ELB + target 5xx) / requests over 5 minutes, in percent",
                            )
                        },
                    )
                ],
            ),
            CustomMetricGroup(
                title="Target response time",
                metrics=[
                    latency["p50"],
                    latency["p90"],
                    CustomMetricWithAlarm(
                        alarm_friendly_name="Latency-P99",
                        metric=targets.target_response_time(statistic="p99", period=FIVE_MINUTES, label="p99 (s)"),
                        add_alarm={
                            "Warning": CustomThreshold(
                                threshold=config.alarm_p99_latency_ms / 1000,
                                comparison_operator=Op.GREATER_THAN_THRESHOLD,
                                evaluation_periods=3,
                                datapoints_to_alarm=2,
                                treat_missing_data_override=Missing.NOT_BREACHING,
                                additional_description="Target response time (to response headers), p99, seconds",
                            )
                        },
                    ),
                ],
            ),
        ],
    )

    dimensions = {"ClusterName": service.cluster.cluster_name, "ServiceName": service.service_name}

    def insights(name: str, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="ECS/ContainerInsights",
            metric_name=name,
            dimensions_map=dimensions,
            statistic="Average",
            period=MINUTE,
            label=label,
        )

    names = deployment_alarm_names(prefix)
    facade.monitor_custom(
        human_readable_name="Tasks and deployments",
        alarm_friendly_name="Tasks",
        metric_groups=[
            CustomMetricGroup(
                title="Task count",
                metrics=[
                    insights("DesiredTaskCount", "Desired"),
                    insights("PendingTaskCount", "Pending"),
                    CustomMetricWithAlarm(
                        alarm_friendly_name="Running",
                        metric=insights("RunningTaskCount", "Running"),
                        add_alarm={
                            "Critical": CustomThreshold(
                                threshold=config.min_tasks,
                                comparison_operator=Op.LESS_THAN_THRESHOLD,
                                evaluation_periods=5,
                                datapoints_to_alarm=5,
                                # No data from a service that should be running is itself an outage.
                                treat_missing_data_override=Missing.BREACHING,
                                additional_description=f"Fewer running tasks than min_tasks ({config.min_tasks})",
                            )
                        },
                    ),
                ],
            ),
            CustomMetricGroup(
                title="Deployment guards (roll back on alarm)",
                metrics=[
                    CustomMetricWithAlarm(
                        alarm_friendly_name="Deployment-5xx",
                        metric=five_xx_rate(load_balancer, target_group, MINUTE),
                        add_alarm={
                            "Deployment": CustomThreshold(
                                alarm_name_override=names["5xx"],
                                threshold=config.alarm_5xx_percent,
                                comparison_operator=Op.GREATER_THAN_THRESHOLD,
                                evaluation_periods=3,
                                datapoints_to_alarm=2,
                                treat_missing_data_override=Missing.NOT_BREACHING,
                                additional_description="ECS rolls a deployment back while this is in ALARM",
                            )
                        },
                    ),
                    CustomMetricWithAlarm(
                        alarm_friendly_name="Deployment-Unhealthy",
                        metric=targets.unhealthy_host_count(period=MINUTE, statistic="Maximum", label="Unhealthy"),
                        add_alarm={
                            "Deployment": CustomThreshold(
                                alarm_name_override=names["unhealthy"],
                                threshold=0,
                                comparison_operator=Op.GREATER_THAN_THRESHOLD,
                                evaluation_periods=3,
                                datapoints_to_alarm=2,
                                treat_missing_data_override=Missing.NOT_BREACHING,
                                additional_description="ECS rolls a deployment back while this is in ALARM",
                            )
                        },
                    ),
                ],
            ),
        ],
    )
    # In addition to the circuit breaker (stages/service.py): it catches tasks that never get healthy, these catch
    # tasks that do but then fail requests or health checks, during the deployment and its bake time.
    service.enable_deployment_alarms(list(names.values()), behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM)
