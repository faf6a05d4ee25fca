"""How the Fargate service releases: the deployment strategy, the load balancer attachment and request scaling.

Rolling (non-production only): tasks replaced in place behind the circuit breaker, one target group. Progressive
(canary, linear, blue_green): ECS starts the new revision on the idle target group, runs the release hook against it
through the test listener, then shifts production traffic in steps with bake times; the deployment alarms
(stages/monitoring) roll it back on breach during the shift and the final bake.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from download_service import contract

from .common import nag
from .config import DeploymentConfig, TasksConfig
from .release_routing import ReleaseRouting

STRATEGY = {
    "rolling": ecs.DeploymentStrategy.ROLLING,
    "blue_green": ecs.DeploymentStrategy.BLUE_GREEN,
    "canary": ecs.DeploymentStrategy.CANARY,
    "linear": ecs.DeploymentStrategy.LINEAR,
}
COOLDOWNS = {"scale_in_cooldown": Duration.seconds(300), "scale_out_cooldown": Duration.seconds(60)}


def deployment_props(config: DeploymentConfig) -> dict[str, Any]:
    """FargateService keyword arguments for `config` (already resolved for its stage)."""
    props: dict[str, Any] = {"deployment_strategy": STRATEGY[config.strategy]}
    if config.circuit_breaker:
        props["circuit_breaker"] = ecs.DeploymentCircuitBreaker(enable=True, rollback=True)
    if not config.progressive:
        return props
    props["bake_time"] = Duration.minutes(config.bake_minutes or 0)
    if config.step_percent is not None:
        shift = ecs.TrafficShiftConfig(
            step_percent=config.step_percent, step_bake_time=Duration.minutes(config.step_bake_minutes or 0)
        )
        props["canary_configuration" if config.strategy == "canary" else "linear_configuration"] = shift
    return props


def attach(
    service: ecs.FargateService,
    container: ecs.ContainerDefinition,
    target_group: elbv2.ApplicationTargetGroup,
    routing: ReleaseRouting | None,
    hook: lambda_.IFunction | None,
) -> None:
    """Register the service with `target_group`; with `routing`, with the alternate target group, the production and
    test rules, and the release hook at POST_TEST_TRAFFIC_SHIFT too."""
    if routing is None:
        service.attach_to_application_target_group(target_group)
        return
    target = service.load_balancer_target(
        container_name=container.container_name,
        container_port=contract.PORT,
        alternate_target=ecs.AlternateTarget(
            "Release",
            alternate_target_group=routing.target_groups[1],
            production_listener=ecs.ListenerRuleConfiguration.application_listener_rule(routing.production_rule),
            test_listener=ecs.ListenerRuleConfiguration.application_listener_rule(routing.test_rule),
        ),
    )
    target.attach_to_application_target_group(target_group)
    nag.acknowledge(
        service.node.find_child("ReleaseRole"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers]",
        "The AWS-managed policy ECS documents for blue/green load balancer control; AWS keeps it in step with what "
        "ECS's traffic shifting calls (listener rules, target groups).",
    )
    if hook is not None:
        # Our own role: CDK's default also grants invoke on the function's versions (`<arn>:*`); ECS calls the
        # function itself, nothing else.
        invoker = iam.Role(
            service,
            "ReleaseHookInvoker",
            assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
            description="ECS runs the release hook with this role",
            inline_policies={
                "InvokeReleaseHook": iam.PolicyDocument(
                    statements=[iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[hook.function_arn])]
                )
            },
        )
        service.add_lifecycle_hook(
            ecs.DeploymentLifecycleLambdaTarget(
                hook,
                "SmokeTests",
                lifecycle_stages=[ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT],
                role=invoker,
            )
        )
    # ECS offers the circuit breaker with rolling deployments only; a progressive release has the hook and the
    # deployment alarms instead.
    Annotations.of(service).acknowledge_warning(
        "@aws-cdk/aws-ecs:shouldUseCircuitBreaker",
        "Progressive (ECS-native) releases fail fast through the release hook and roll back on the deployment alarms.",
    )


def scale_on_requests(
    scaling: ecs.ScalableTaskCount,
    tasks: TasksConfig,
    target_group: elbv2.ApplicationTargetGroup,
    routing: ReleaseRouting | None,
) -> None:
    """Track `requests_per_target`. With two target groups, on the sum of both groups' RequestCountPerTarget: the
    idle group adds 0 and a split adds up to the per-task rate, so scaling neither halves nor doubles mid-release
    (AWS's blue/green autoscaling sample does the same). CDK accepts only a single metric for target tracking, so the
    policy is built on the first group and its metric replaced by the metric math."""
    if routing is None:
        scaling.scale_on_request_count(
            "Requests", requests_per_target=tasks.requests_per_target, target_group=target_group, **COOLDOWNS
        )
        return
    blue, green = routing.target_groups
    scaling.scale_to_track_custom_metric(
        "Requests",
        metric=blue.metrics.request_count_per_target(statistic="Sum"),
        target_value=tasks.requests_per_target,
        **COOLDOWNS,
    )
    policy = scaling.node.find_child("Target").node.find_child("Requests").node.find_child("Resource")
    assert isinstance(policy, appscaling.CfnScalingPolicy)
    total = {"Id": "total", "Expression": "blue + green", "Label": "Requests per target", "ReturnData": True}
    spec = "TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification"
    for single in ("Namespace", "MetricName", "Dimensions", "Statistic", "Unit"):
        policy.add_property_deletion_override(f"{spec}.{single}")
    policy.add_property_override(
        f"{spec}.Metrics", [_requests_per_target("blue", blue), _requests_per_target("green", green), total]
    )


def _requests_per_target(metric_id: str, group: elbv2.ApplicationTargetGroup) -> dict[str, Any]:
    return {
        "Id": metric_id,
        "ReturnData": False,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "RequestCountPerTarget",
                "Dimensions": [
                    {"Name": "TargetGroup", "Value": group.target_group_full_name},
                    {"Name": "LoadBalancer", "Value": group.first_load_balancer_full_name},
                ],
            },
            "Stat": "Sum",
        },
    }
