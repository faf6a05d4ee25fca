"""The deployment alarms: what ECS watches while a release shifts traffic and bakes, and rolls back on.

Progressive releases are judged by what the new revision serves itself: the 5xx rate of its own access log lines
(dimension Version = this release's image hash), so errors of the revision being replaced, of a dependency already
failing or of the load balancer cannot roll a hotfix back. The release hook already tested the revision alone before
any production traffic; this watches it under production traffic. Rolling releases (non-production only) keep the
whole-load-balancer 5xx rate and unhealthy targets, beside the circuit breaker.

`deployment.break_glass` leaves the alarms in place (they still notify) but does not hand them to ECS.
"""

from __future__ import annotations

from aws_cdk import Annotations
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from cdk_monitoring_constructs import CustomMetricWithAlarm, CustomThreshold
from constructs import Construct

from ..config import AlarmsConfig, DeploymentConfig
from .metrics import MINUTE, Missing, Op, TargetGroups, five_xx_rate, release_5xx_rate, unhealthy_hosts


def deployment_alarm_names(prefix: str, deployment: DeploymentConfig) -> list[str]:
    """Fixed names, so the ECS service refers to its deployment alarms by plain string (no reference, no cycle)."""
    names = [f"{prefix}-Deployment-5xx-Rate"]
    if not deployment.progressive:
        names.append(f"{prefix}-Deployment-Unhealthy-Hosts")
    return names


def deployment_guards(
    *,
    alarms: AlarmsConfig,
    deployment: DeploymentConfig,
    prefix: str,
    namespace: str,
    version: str,
    load_balancer: elbv2.ApplicationLoadBalancer,
    target_groups: TargetGroups,
) -> list[CustomMetricWithAlarm]:
    """The guard metrics with their alarms, named as `deployment_alarm_names` says."""
    names = deployment_alarm_names(prefix, deployment)
    limit = alarms.five_xx_percent
    if deployment.progressive:
        return [_guard("Deployment-5xx", release_5xx_rate(namespace, version, MINUTE), names[0], limit)]
    return [
        _guard("Deployment-5xx", five_xx_rate(load_balancer, namespace, MINUTE), names[0], limit),
        _guard("Deployment-Unhealthy", unhealthy_hosts(target_groups), names[1], 0),
    ]


def hand_to_ecs(
    scope: Construct, service: ecs.FargateService, names: list[str], deployment: DeploymentConfig, stage_name: str
) -> None:
    """Let ECS roll a deployment back while any of `names` is in ALARM, unless the stage is in break-glass."""
    if deployment.break_glass:
        Annotations.of(scope).add_warning_v2(
            "download-service:break-glass",
            f"Stage {stage_name!r} deploys with break_glass: its deployment alarms only notify, ECS will not roll "
            "this release back on them (the release hook still runs). Set deployment.break_glass back to false "
            "after this release.",
        )
        return
    service.enable_deployment_alarms(names, behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM)


def _guard(friendly_name: str, metric, name: str, threshold: float) -> CustomMetricWithAlarm:
    """Above `threshold` in 2 of 3 minutes."""
    return CustomMetricWithAlarm(
        alarm_friendly_name=friendly_name,
        metric=metric,
        add_alarm={
            "Deployment": CustomThreshold(
                alarm_name_override=name,
                threshold=threshold,
                comparison_operator=Op.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                treat_missing_data_override=Missing.NOT_BREACHING,
                additional_description="ECS rolls a deployment back while this is in ALARM",
            )
        },
    )
