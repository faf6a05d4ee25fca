"""Dashboard segments and their alarms, added to a cdk-monitoring-constructs MonitoringFacade.

What the library covers is used as is (Fargate service: CPU, memory, task counts, connections; billing). What it
lacks is built here with its custom monitor, so it still lands on the same dashboard with the same alarm naming and
SNS actions: ALB request count, 4xx/5xx, 5xx rate and latency alarms (its issue #46), a running-tasks-below-minimum
alarm (its Fargate monitor only has Running-Tasks-High), desired/pending task counts, and unhealthy targets over
every target group (its monitor watches one, and a progressive release's tasks may be in either).
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from cdk_monitoring_constructs import (
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    MonitoringFacade,
    UsageThreshold,
)

from ..config import AlarmsConfig, TasksConfig
from .metrics import FIVE_MINUTES, MINUTE, Missing, Op, TargetGroups, five_xx_rate, healthy_hosts, unhealthy_hosts


def add_fargate_segment(
    facade: MonitoringFacade,
    *,
    alarms: AlarmsConfig,
    tasks: TasksConfig,
    service: ecs.FargateService,
    load_balancer: elbv2.ApplicationLoadBalancer,
    target_group: elbv2.ApplicationTargetGroup,
) -> None:
    """The library's Fargate + ALB monitor: CPU and memory (warning alarms), task health, connections."""

    def usage(percent: int) -> dict[str, UsageThreshold]:
        return {
            "Warning": UsageThreshold(
                max_usage_percent=percent, period=MINUTE, evaluation_periods=5, datapoints_to_alarm=5
            )
        }

    facade.monitor_fargate_application_load_balancer(
        fargate_service=service,
        application_load_balancer=load_balancer,
        application_target_group=target_group,
        human_readable_name="Fargate service",
        alarm_friendly_name="Service",
        min_auto_scaling_task_count=tasks.min_tasks,
        max_auto_scaling_task_count=tasks.max_tasks,
        add_cpu_usage_alarm=usage(alarms.cpu_percent),
        add_memory_usage_alarm=usage(alarms.memory_percent),
    )


def add_traffic_segment(
    facade: MonitoringFacade,
    *,
    alarms: AlarmsConfig,
    load_balancer: elbv2.ApplicationLoadBalancer,
    target_groups: TargetGroups,
    namespace: str,
) -> None:
    """Requests, 4xx/5xx, the 5xx rate (critical alarm: server errors only, metrics.five_xx_rate) and target
    latency (p99 warning alarm), for the load balancer as a whole: every target group counts."""
    alb = load_balancer.metrics
    latency = {p: alb.target_response_time(statistic=p, period=MINUTE, label=f"{p} (s)") for p in ("p50", "p90")}
    facade.monitor_custom(
        human_readable_name="Traffic (load balancer)",
        alarm_friendly_name="Traffic",
        metric_groups=[
            CustomMetricGroup(
                title="Requests",
                metrics=[
                    alb.request_count(period=MINUTE, statistic="Sum", label="Requests (ALB)"),
                    *(
                        group.metrics.request_count_per_target(
                            period=MINUTE, statistic="Sum", label=f"Requests per target ({group.node.id})"
                        )
                        for group in target_groups
                    ),
                ],
            ),
            CustomMetricGroup(
                title="HTTP 4xx / 5xx",
                metrics=[
                    alb.http_code_elb(elbv2.HttpCodeElb.ELB_4XX_COUNT, period=MINUTE, statistic="Sum"),
                    alb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=MINUTE, statistic="Sum"),
                    alb.http_code_target(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, period=MINUTE, statistic="Sum"),
                    alb.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=MINUTE, statistic="Sum"),
                ],
            ),
            CustomMetricGroup(
                title="5xx rate",
                metrics=[
                    CustomMetricWithAlarm(
                        alarm_friendly_name="5xx-Rate",
                        metric=five_xx_rate(load_balancer, namespace, FIVE_MINUTES),
                        add_alarm={
                            "Critical": CustomThreshold(
                                threshold=alarms.five_xx_percent,
                                comparison_operator=Op.GREATER_THAN_THRESHOLD,
                                evaluation_periods=1,
                                datapoints_to_alarm=1,
                                treat_missing_data_override=Missing.NOT_BREACHING,
                                additional_description="(load balancer 5xx + the service's server errors) / "
                                "requests over 5 minutes, in percent; refusals (429, busy 503) are not errors",
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
                        metric=alb.target_response_time(statistic="p99", period=FIVE_MINUTES, label="p99 (s)"),
                        add_alarm={
                            "Warning": CustomThreshold(
                                threshold=alarms.p99_latency_ms / 1000,
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


def add_tasks_segment(
    facade: MonitoringFacade,
    *,
    tasks: TasksConfig,
    service: ecs.FargateService,
    target_groups: TargetGroups,
    guards: list[CustomMetricWithAlarm],
    slots: cloudwatch.Metric,
) -> None:
    """Task counts (running below min_tasks is critical), unhealthy targets (critical), download slots (a warning
    when tasks run saturated) and the deployment guards."""
    metric_groups = [
        _task_counts(service, tasks) if tasks.container_insights else _serving_tasks(target_groups, tasks),
        _slots(slots),
        CustomMetricGroup(
            title="Target health",
            metrics=[
                CustomMetricWithAlarm(
                    alarm_friendly_name="Unhealthy-Targets",
                    metric=unhealthy_hosts(target_groups),
                    add_alarm={
                        "Critical": CustomThreshold(
                            threshold=0,
                            comparison_operator=Op.GREATER_THAN_THRESHOLD,
                            evaluation_periods=5,
                            datapoints_to_alarm=5,
                            treat_missing_data_override=Missing.NOT_BREACHING,
                            additional_description="Targets failing the /health check, over every target group",
                        )
                    },
                )
            ],
        ),
    ]
    if guards:
        metric_groups.append(CustomMetricGroup(title="Deployment guards (roll back on alarm)", metrics=guards))
    facade.monitor_custom(
        human_readable_name="Tasks and deployments", alarm_friendly_name="Tasks", metric_groups=metric_groups
    )


def _task_counts(service: ecs.FargateService, tasks: TasksConfig) -> CustomMetricGroup:
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

    return CustomMetricGroup(
        title="Task count",
        metrics=[
            insights("DesiredTaskCount", "Desired"),
            insights("PendingTaskCount", "Pending"),
            CustomMetricWithAlarm(
                alarm_friendly_name="Running",
                metric=insights("RunningTaskCount", "Running"),
                add_alarm={
                    "Critical": CustomThreshold(
                        threshold=tasks.min_tasks,
                        comparison_operator=Op.LESS_THAN_THRESHOLD,
                        evaluation_periods=5,
                        datapoints_to_alarm=5,
                        # Missing data is not an outage: Container Insights publishes nothing for a service it
                        # has not seen yet (a stage's first minutes) or while it is off. A service with no task
                        # still reports 0; and the probe and the 5xx alarms see a service that answers nobody.
                        treat_missing_data_override=Missing.NOT_BREACHING,
                        additional_description=f"Fewer running tasks than min_tasks ({tasks.min_tasks})",
                    )
                },
            ),
        ],
    )


def _serving_tasks(target_groups: TargetGroups, tasks: TasksConfig) -> CustomMetricGroup:
    """Without Container Insights (a lean stage) there are no task counts: the healthy targets stand in for running
    tasks, under the same alarm name. A task that runs but fails /health counts as missing here, which the
    Unhealthy-Targets alarm names too."""
    return CustomMetricGroup(
        title="Task count (healthy targets)",
        metrics=[
            CustomMetricWithAlarm(
                alarm_friendly_name="Running",
                metric=healthy_hosts(target_groups),
                add_alarm={
                    "Critical": CustomThreshold(
                        threshold=tasks.min_tasks,
                        comparison_operator=Op.LESS_THAN_THRESHOLD,
                        evaluation_periods=5,
                        datapoints_to_alarm=5,
                        # The load balancer publishes the count every minute, 0 included; missing data (a stage
                        # being created) is not an outage.
                        treat_missing_data_override=Missing.NOT_BREACHING,
                        additional_description=f"Fewer healthy targets than min_tasks ({tasks.min_tasks})",
                    )
                },
            ),
        ],
    )


#: A task whose busiest minute uses this share of its download slots, 5 minutes in a row, is refusing downloads
#: (503 + Retry-After) or about to: scaling on slots (target 70 %) has not kept up, or max_tasks is reached.
SATURATED_PERCENT = 95


def _slots(utilization: cloudwatch.Metric) -> CustomMetricGroup:
    return CustomMetricGroup(
        title="Download slots in use (% of a task's)",
        metrics=[
            utilization.with_(label="Average"),
            CustomMetricWithAlarm(
                alarm_friendly_name="Saturated",
                metric=utilization.with_(statistic="Maximum", label="Busiest task"),
                add_alarm={
                    "Warning": CustomThreshold(
                        threshold=SATURATED_PERCENT,
                        comparison_operator=Op.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                        evaluation_periods=5,
                        datapoints_to_alarm=5,
                        treat_missing_data_override=Missing.NOT_BREACHING,
                        additional_description="Download slots of the busiest task, 5 minutes in a row",
                    )
                },
            ),
        ],
    )
