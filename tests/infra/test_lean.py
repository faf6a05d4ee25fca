"""A lean non-production stage (cdk.json `"lean": true`, design §12) against production's full footprint: one task on
Fargate Spot, interface endpoints in one AZ, the probe every 15 minutes, no Container Insights, and monitoring that
reads only metrics that exist without it."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from .conftest import only


def test_lean_dev_runs_one_task_on_fargate_spot(dev_stateless: Template) -> None:
    service = only(dev_stateless.find_resources("AWS::ECS::Service"))["Properties"]
    assert service["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert "LaunchType" not in service
    cluster = only(dev_stateless.find_resources("AWS::ECS::Cluster"))["Properties"]
    assert cluster["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    # on the cluster, whose handlers the deploy role may call (tests/infra/test_execution_policy.py)
    assert not dev_stateless.find_resources("AWS::ECS::ClusterCapacityProviderAssociations")
    target = only(dev_stateless.find_resources("AWS::ApplicationAutoScaling::ScalableTarget"))["Properties"]
    assert target["MinCapacity"] == 1


def test_spot_tasks_are_x86_64(dev_stateless: Template) -> None:
    """ "Linux tasks with the ARM64 architecture don't support the Fargate Spot capacity provider":
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html"""
    task = only(dev_stateless.find_resources("AWS::ECS::TaskDefinition"))["Properties"]
    assert task["RuntimePlatform"]["CpuArchitecture"] == "X86_64"


def test_production_keeps_on_demand_capacity_and_two_tasks(prod_stateless: Template) -> None:
    service = only(prod_stateless.find_resources("AWS::ECS::Service"))["Properties"]
    assert "CapacityProviderStrategy" not in service
    assert service["LaunchType"] == "FARGATE"
    assert "CapacityProviders" not in only(prod_stateless.find_resources("AWS::ECS::Cluster"))["Properties"]
    target = only(prod_stateless.find_resources("AWS::ApplicationAutoScaling::ScalableTarget"))["Properties"]
    assert target["MinCapacity"] == 2


def interface_endpoint_subnets(template: Template) -> list[int]:
    endpoints = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}})
    return [len(endpoint["Properties"]["SubnetIds"]) for endpoint in endpoints.values()]


def test_interface_endpoints_in_one_az_outside_production(dev_stateless: Template, prod_stateless: Template) -> None:
    assert interface_endpoint_subnets(dev_stateless) == [1, 1, 1]
    assert interface_endpoint_subnets(prod_stateless) == [2, 2, 2]


def test_the_probe_runs_every_15_minutes_outside_production(dev_stateless: Template, prod_stateless: Template) -> None:
    def rate(template: Template) -> str:
        return only(template.find_resources("AWS::Synthetics::Canary"))["Properties"]["Schedule"]["Expression"]

    assert rate(dev_stateless) == "rate(15 minutes)"
    assert rate(prod_stateless) == "rate(5 minutes)"


def container_insights(template: Template) -> str:
    settings = only(template.find_resources("AWS::ECS::Cluster"))["Properties"]["ClusterSettings"]
    return next(s["Value"] for s in settings if s["Name"] == "containerInsights")


def test_without_container_insights_no_alarm_reads_its_metrics(dev_stateless: Template) -> None:
    """Alarms only: the dashboard's "Task Health" widget of cdk-monitoring-constructs always graphs Container
    Insights' RunningTaskCount (beside the target groups' healthy tasks), an empty line on a lean stage."""
    assert container_insights(dev_stateless) == "disabled"
    assert "ECS/ContainerInsights" not in json.dumps(dev_stateless.find_resources("AWS::CloudWatch::Alarm"))


def test_the_running_tasks_alarm_reads_healthy_targets_and_never_alarms_for_missing_data(
    dev_stateless: Template,
) -> None:
    """AWS/ApplicationELB publishes HealthyHostCount per target group whatever the cluster's settings; missing data
    (a stage being created) is not an outage."""
    (running,) = [
        alarm["Properties"]
        for alarm in dev_stateless.find_resources("AWS::CloudWatch::Alarm").values()
        if "Tasks-Running" in json.dumps(alarm["Properties"].get("AlarmName", ""))
    ]
    assert running["TreatMissingData"] == "notBreaching"
    assert running["Threshold"] == 1
    assert running["ComparisonOperator"] == "LessThanThreshold"
    assert "HealthyHostCount" in json.dumps(running)


def test_production_keeps_container_insights_and_its_task_counts(prod_stateless: Template) -> None:
    assert container_insights(prod_stateless) == "enabled"
    assert "RunningTaskCount" in json.dumps(prod_stateless.find_resources("AWS::CloudWatch::Alarm"))
