"""The edge's own signals: the WAF's verdicts, and the load balancer failing on its own (before any task answers).

- WAF: allowed, blocked and counted requests, per rule; a warning on a surge of blocks (an attack, or a rule that
  started to hit real users: see docs/operations.md, WAF tuning).
- Load balancer: connections it could not open to a target (`TargetConnectionErrorCount`: tasks closing or refusing
  connections), connections it rejected because it hit its own limit (`RejectedConnectionCount`), and its own 5xx
  rate without the targets' (no healthy target, timeouts, malformed answers): each alarms on its own, because the
  combined 5xx rate hides an ELB-only failure in a busy stage.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from cdk_monitoring_constructs import CustomMetricGroup, CustomMetricWithAlarm, CustomThreshold, MonitoringFacade
from constructs import Construct

from ..config import AlarmsConfig, EdgeConfig
from .metrics import FIVE_MINUTES, MINUTE, Missing, Op, min_requests_for_rate


def _threshold(threshold: float, description: str, *, over: int = 1) -> CustomThreshold:
    return CustomThreshold(
        threshold=threshold,
        comparison_operator=Op.GREATER_THAN_THRESHOLD,
        evaluation_periods=over,
        datapoints_to_alarm=over,
        treat_missing_data_override=Missing.NOT_BREACHING,
        additional_description=description,
    )


def add_waf_segment(
    facade: MonitoringFacade, scope: Construct, *, web_acl_name: str, rule_names: list[str], config: EdgeConfig
) -> None:
    region = Stack.of(scope).region

    def waf(metric: str, rule: str = "ALL", period=MINUTE) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/WAFV2",
            metric_name=metric,
            dimensions_map={"WebACL": web_acl_name, "Region": region, "Rule": rule},
            statistic="Sum",
            period=period,
            label=f"{metric} ({rule})",
        )

    facade.monitor_custom(
        human_readable_name="WAF",
        alarm_friendly_name="Waf",
        metric_groups=[
            CustomMetricGroup(
                title="Requests by verdict",
                metrics=[
                    waf("AllowedRequests"),
                    CustomMetricWithAlarm(
                        alarm_friendly_name="Blocked",
                        metric=waf("BlockedRequests", period=FIVE_MINUTES),
                        add_alarm={
                            "Warning": _threshold(config.waf_block_alarm, "Requests the WAF blocked in 5 minutes")
                        },
                    ),
                    waf("CountedRequests"),
                ],
            ),
            CustomMetricGroup(title="Blocked per rule", metrics=[waf("BlockedRequests", rule) for rule in rule_names]),
            CustomMetricGroup(title="Counted per rule", metrics=[waf("CountedRequests", rule) for rule in rule_names]),
        ],
    )


def add_load_balancer_segment(
    facade: MonitoringFacade, *, alarms: AlarmsConfig, load_balancer: elbv2.ApplicationLoadBalancer
) -> None:
    alb = load_balancer.metrics
    period = FIVE_MINUTES
    elb_rate = cloudwatch.MathExpression(
        expression=(
            f"IF(FILL(requests, 0) >= {min_requests_for_rate(period)}, 100 * FILL(elb5xx, 0) / FILL(requests, 1), 0)"
        ),
        using_metrics={
            "requests": alb.request_count(period=period, statistic="Sum"),
            "elb5xx": alb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, statistic="Sum"),
        },
        label="ELB 5xx rate (%)",
        period=period,
    )
    facade.monitor_custom(
        human_readable_name="Load balancer (its own failures)",
        alarm_friendly_name="Alb",
        metric_groups=[
            CustomMetricGroup(
                title="Connections it could not make or take",
                metrics=[
                    CustomMetricWithAlarm(
                        alarm_friendly_name="Target-Connection-Errors",
                        metric=alb.target_connection_error_count(period=period, statistic="Sum"),
                        add_alarm={
                            "Warning": _threshold(0, "Connections to targets that failed, 5 minutes in a row", over=2)
                        },
                    ),
                    CustomMetricWithAlarm(
                        alarm_friendly_name="Rejected-Connections",
                        metric=alb.rejected_connection_count(period=period, statistic="Sum"),
                        add_alarm={"Warning": _threshold(0, "Connections the load balancer rejected at its limit")},
                    ),
                ],
            ),
            CustomMetricGroup(
                title="ELB 5xx rate",
                metrics=[
                    CustomMetricWithAlarm(
                        alarm_friendly_name="Elb-5xx-Rate",
                        metric=elb_rate,
                        add_alarm={
                            "Critical": _threshold(
                                alarms.five_xx_percent, "5xx the load balancer answered itself / requests, 5 min"
                            )
                        },
                    )
                ],
            ),
        ],
    )
