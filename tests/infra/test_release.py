"""The release path on the templates: ECS-native canary deployments, the guarded test listener, the release hook,
alarms that judge only the new revision, request scaling over both target groups, and what stays stable for
aws-cdk#36649 (a stack update must not reset the rules ECS re-weights)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Tags
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk.assertions import Template

from app import build, new_app
from canary.hook import LOCK_CIDR, TOKEN_HEADER
from stages import service as service_module
from stages import stage as stage_module
from stages.canary import CANARY_KEY, canary_sha256
from stages.config import CONTEXT_KEY, cdk_json_context
from stages.release_routing import TEST_PORT_HTTP, TEST_PORT_HTTPS

from .conftest import Synth, only, synthesize
from .test_monitoring import _alarms, _metric_math

RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"


def _service(template: Template) -> dict[str, Any]:
    return only(template.find_resources("AWS::ECS::Service"))["Properties"]


def _id(template: Template, kind: str, prefix: str) -> str:
    (found,) = [logical_id for logical_id in template.find_resources(kind) if logical_id.startswith(prefix)]
    return found


def _rules_of(template: Template, listener_id: str) -> list[dict[str, Any]]:
    rules = template.find_resources(RULE).values()
    return [rule["Properties"] for rule in rules if rule["Properties"]["ListenerArn"] == {"Ref": listener_id}]


def _weighted(blue: str, green: str) -> list[dict[str, Any]]:
    groups = [{"TargetGroupArn": {"Ref": blue}, "Weight": 1}, {"TargetGroupArn": {"Ref": green}, "Weight": 0}]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]


@pytest.mark.parametrize(("stage", "bakes"), [("prod", 10), ("dev", 1)])
def test_stages_release_by_canary_with_bakes_the_hook_and_the_release_alarm(
    synth: Synth, stage: str, bakes: int
) -> None:
    """The hook runs at POST_TEST_TRAFFIC_SHIFT ("the test traffic shift is complete", ECS's lifecycle stages:
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html). Whether ECS runs
    hooks on the service's creation is not stated there (hashicorp/terraform-provider-aws#43434 waits for them
    "during creation"); the first release is covered by the pipeline's Smoke step either way, and it is a
    first-deployment check in docs/operations.md §2."""
    template = synth.template(stage, "stateless")
    hook = _id(template, "AWS::Lambda::Function", "ReleaseHookFunction")
    invoker = _id(template, "AWS::IAM::Role", "ServiceReleaseHookInvoker")
    assert _service(template)["DeploymentConfiguration"] == {
        "Strategy": "CANARY",
        "CanaryConfiguration": {"CanaryPercent": 10, "CanaryBakeTimeInMinutes": bakes},
        "BakeTimeInMinutes": bakes,
        "LifecycleHooks": [
            {
                "HookTargetArn": {"Fn::GetAtt": [hook, "Arn"]},
                "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                "RoleArn": {"Fn::GetAtt": [invoker, "Arn"]},
            }
        ],
        # Plain names (no Ref): the alarms read the service's metrics, the service must not depend on them by value.
        "Alarms": {"AlarmNames": [f"download-service-{stage}-Deployment-5xx-Rate"], "Enable": True, "Rollback": True},
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
    }  # no DeploymentCircuitBreaker: ECS has one for rolling deployments only


def test_the_new_revision_starts_on_the_alternate_target_group_behind_both_rules(prod_stateless: Template) -> None:
    (balancer,) = _service(prod_stateless)["LoadBalancers"]
    blue = _id(prod_stateless, "AWS::ElasticLoadBalancingV2::TargetGroup", "EdgeTargets")
    green = _id(prod_stateless, "AWS::ElasticLoadBalancingV2::TargetGroup", "EdgeAlternateTargets")
    assert balancer["TargetGroupArn"] == {"Ref": blue}
    advanced = balancer["AdvancedConfiguration"]
    assert advanced["AlternateTargetGroupArn"] == {"Ref": green}
    assert advanced["ProductionListenerRule"] == {"Ref": _id(prod_stateless, RULE, "EdgeLoadBalancerHttpsProduction")}
    assert advanced["TestListenerRule"] == {"Ref": _id(prod_stateless, RULE, "EdgeLoadBalancerTestRelease")}


@pytest.mark.parametrize(("stage", "listener_port"), [("prod", 443), ("dev", 80)])
def test_production_rule_answers_every_path_weighted_one_to_zero(synth: Synth, stage: str, listener_port: int) -> None:
    template = synth.template(stage, "stateless")
    blue = _id(template, "AWS::ElasticLoadBalancingV2::TargetGroup", "EdgeTargets")
    green = _id(template, "AWS::ElasticLoadBalancingV2::TargetGroup", "EdgeAlternateTargets")
    (listener,) = template.find_resources(LISTENER, {"Properties": {"Port": listener_port}})
    (rule,) = _rules_of(template, listener)
    assert rule["Priority"] == 1
    assert rule["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["*"]}}]
    assert rule["Actions"] == _weighted(blue, green)


@pytest.mark.parametrize(
    ("stage", "port", "protocol"), [("prod", TEST_PORT_HTTPS, "HTTPS"), ("dev", TEST_PORT_HTTP, "HTTP")]
)
def test_test_listener_refuses_everything_but_the_locked_rule(
    synth: Synth, stage: str, port: int, protocol: str
) -> None:
    template = synth.template(stage, "stateless")
    (listener_id, listener) = next(iter(template.find_resources(LISTENER, {"Properties": {"Port": port}}).items()))
    props = listener["Properties"]
    assert props["Protocol"] == protocol
    assert props["DefaultActions"] == [
        {
            "Type": "fixed-response",
            "FixedResponseConfig": {
                "StatusCode": "403",
                "ContentType": "application/json",
                "MessageBody": '{"error": "forbidden"}',
            },
        }
    ]
    if protocol == "HTTPS":
        assert props["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
        assert props["Certificates"] == [
            {"CertificateArn": {"Ref": _id(template, "AWS::CertificateManager::Certificate", "EdgeCertificate")}}
        ]
    (rule,) = _rules_of(template, listener_id)  # nothing else can route test traffic
    # At rest it matches no request: a source no client has AND a header value nobody is given.
    assert {c["Field"]: c for c in rule["Conditions"]} == {
        "http-header": {
            "Field": "http-header",
            "HttpHeaderConfig": {"HttpHeaderName": TOKEN_HEADER, "Values": ["locked"]},
        },
        "source-ip": {"Field": "source-ip", "SourceIpConfig": {"Values": [LOCK_CIDR]}},
    }


def test_release_hook_runs_outside_the_vpc_and_may_only_relock_the_test_rule(prod_stateless: Template) -> None:
    function = prod_stateless.find_resources("AWS::Lambda::Function")[
        _id(prod_stateless, "AWS::Lambda::Function", "ReleaseHookFunction")
    ]["Properties"]
    test_rule = _id(prod_stateless, RULE, "EdgeLoadBalancerTestRelease")
    assert function["Handler"] == "canary.hook.handler"
    assert function["Runtime"] == "python3.14"
    assert "VpcConfig" not in function  # the test listener's public address is not reachable from the task subnets
    assert function["Environment"]["Variables"] == {
        "TEST_BASE_URL": f"https://download.example.com:{TEST_PORT_HTTPS}",
        "TEST_RULE_ARN": {"Ref": test_rule},
        "OBJECT_KEY": CANARY_KEY,
        "OBJECT_SHA256": canary_sha256(),
    }
    role = function["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in prod_stateless.find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role}]
    ]
    assert policy == [
        {
            "Action": "elasticloadbalancing:ModifyRule",
            "Effect": "Allow",
            "Resource": {"Ref": test_rule},
            "Sid": "UnlockAndLockTheTestRule",
        }
    ]  # not the production rule, not the listeners, not DeleteRule


def test_ecs_may_invoke_the_hook_and_nothing_else(prod_stateless: Template) -> None:
    role = prod_stateless.find_resources("AWS::IAM::Role")[
        _id(prod_stateless, "AWS::IAM::Role", "ServiceReleaseHookInvoker")
    ]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}}
    ]
    hook = _id(prod_stateless, "AWS::Lambda::Function", "ReleaseHookFunction")
    assert role["Policies"] == [
        {
            "PolicyName": "InvokeReleaseHook",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [hook, "Arn"]}}
                ],
            },
        }
    ]


def _asset_files(synth: Synth, stage: str, s3_key: str) -> set[str]:
    (folder,) = [p for p in synth.outdir.glob(f"asset.{s3_key.removesuffix('.zip')}") if p.is_dir()]
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_hook_and_probe_code_is_the_canary_package_only(synth: Synth, prod_stateless: Template) -> None:
    resources = prod_stateless.to_json()["Resources"]
    hook = resources[_id(prod_stateless, "AWS::Lambda::Function", "ReleaseHookFunction")]["Properties"]
    hook_files = _asset_files(synth, "prod", hook["Code"]["S3Key"])
    assert {"canary/hook.py", "canary/checks.py", "canary/__init__.py"} <= hook_files
    assert all(name.startswith("canary/") and name.endswith(".py") for name in hook_files), sorted(hook_files)
    probe = resources[_id(prod_stateless, "AWS::Synthetics::Canary", "ProbeCanary")]["Properties"]
    probe_files = _asset_files(synth, "prod", probe["Code"]["S3Key"])
    assert {"python/probe_entry.py", "python/canary/probe.py", "python/canary/checks.py"} <= probe_files
    assert probe["Code"]["Handler"] == "probe_entry.handler"


def test_request_scaling_sums_both_target_groups(prod_stateless: Template) -> None:
    policies = [
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for p in prod_stateless.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    ]
    (cpu,) = [p for p in policies if "PredefinedMetricSpecification" in p]
    assert cpu["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    # The request policy is the metric-math one (the slot policy reads one metric the tasks write).
    (requests,) = [p for p in policies if "Metrics" in p.get("CustomizedMetricSpecification", {})]
    metrics = requests["CustomizedMetricSpecification"]["Metrics"]
    assert [m["Id"] for m in metrics] == ["blue", "green", "total"]
    assert metrics[2] == {
        "Id": "total",
        "Expression": "blue + green",
        "Label": "Requests per target",
        "ReturnData": True,
    }
    groups = set()
    for metric in metrics[:2]:
        assert metric["ReturnData"] is False
        assert metric["MetricStat"]["Stat"] == "Sum"
        assert metric["MetricStat"]["Metric"]["MetricName"] == "RequestCountPerTarget"
        groups.add(
            json.dumps(next(d for d in metric["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "TargetGroup"))
        )
    assert len(groups) == 2  # each target group once
    assert set(requests["CustomizedMetricSpecification"]) == {"Metrics"}  # no leftover single-metric fields


def test_deployment_alarm_judges_only_this_release(synth: Synth, prod_stateless: Template) -> None:
    alarm = _alarms(prod_stateless)["download-service-prod-Deployment-5xx-Rate"]
    container = only(prod_stateless.find_resources("AWS::ECS::TaskDefinition"))["Properties"]["ContainerDefinitions"][0]
    version = next(e["Value"] for e in container["Environment"] if e["Name"] == "APP_VERSION")
    inputs = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {(m["Namespace"], m["MetricName"]) for m in inputs.values()} == {
        ("download-service/prod", "ReleaseRequests"),
        ("download-service/prod", "Release5xx"),
    }
    assert all(m["Dimensions"] == [{"Name": "Version", "Value": version}] for m in inputs.values())
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    ids = {m["MetricName"]: metric_id for metric_id, m in inputs.items()}
    assert _metric_math(expression, {ids["ReleaseRequests"]: 100, ids["Release5xx"]: 3}) == 3.0
    assert _metric_math(expression, {ids["ReleaseRequests"]: 3, ids["Release5xx"]: 3}) == 0.0  # below the floor
    assert _metric_math(expression, {ids["ReleaseRequests"]: None, ids["Release5xx"]: None}) == 0.0
    # CloudFormation points the alarm at the new version before ECS starts the deployment it guards.
    alarm_id = next(k for k, v in prod_stateless.find_resources("AWS::CloudWatch::Alarm").items()
                    if v["Properties"]["AlarmName"] == "download-service-prod-Deployment-5xx-Rate")  # fmt: skip
    service = only(prod_stateless.find_resources("AWS::ECS::Service"))
    assert alarm_id in service["DependsOn"]


def test_release_metric_filters_carry_the_version_dimension(prod_stateless: Template) -> None:
    filters = {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"]["MetricTransformations"][0]
        for f in prod_stateless.find_resources("AWS::Logs::MetricFilter").values()
    }
    for name in ("ReleaseRequests", "Release5xx"):
        assert filters[name]["Dimensions"] == [{"Key": "Version", "Value": "$.version"}]
        assert "DefaultValue" not in filters[name]  # CloudWatch allows no default with dimensions


def test_each_stage_has_one_critical_composite_alarm_over_its_critical_alarms(synth: Synth) -> None:
    for stage in ("dev", "prod"):
        template = synth.template(stage, "stateless")
        composite = only(template.find_resources("AWS::CloudWatch::CompositeAlarm"))["Properties"]
        assert composite["AlarmName"] == f"download-service-{stage}-Critical"
        rule = json.dumps(composite["AlarmRule"])
        critical = {k for k, v in template.find_resources("AWS::CloudWatch::Alarm").items()
                    if v["Properties"]["AlarmName"].endswith("-Critical")}  # fmt: skip
        referenced = {k for k in template.find_resources("AWS::CloudWatch::Alarm") if k in rule}
        assert referenced == critical
        assert len(critical) >= 5
        assert "AlarmActions" not in composite  # the alarms it combines already notify


# ---- variants ------------------------------------------------------------------------------------------------------


def _variant(tmp_path_factory: pytest.TempPathFactory, name: str, **dev: Any) -> Synth:
    context = cdk_json_context()
    context[CONTEXT_KEY]["stages"]["dev"].update(copy.deepcopy(dev))
    return synthesize(Path(tmp_path_factory.mktemp(name)), context)


@pytest.fixture(scope="module")
def rolling_dev(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return _variant(tmp_path_factory, "rolling", deployment={"strategy": "rolling"}).template("dev", "stateless")


def test_rolling_stage_keeps_the_circuit_breaker_and_whole_load_balancer_guards(rolling_dev: Template) -> None:
    assert _service(rolling_dev)["DeploymentConfiguration"] == {
        "Strategy": "ROLLING",
        "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
        "Alarms": {
            "AlarmNames": [
                "download-service-dev-Deployment-5xx-Rate",
                "download-service-dev-Deployment-Unhealthy-Hosts",
            ],
            "Enable": True,
            "Rollback": True,
        },
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
    }
    assert "AdvancedConfiguration" not in _service(rolling_dev)["LoadBalancers"][0]
    rolling_dev.resource_count_is("AWS::ElasticLoadBalancingV2::TargetGroup", 1)
    rolling_dev.resource_count_is(RULE, 0)
    rolling_dev.resource_count_is(LISTENER, 1)  # no test listener
    assert not [k for k in rolling_dev.find_resources("AWS::Lambda::Function") if k.startswith("ReleaseHook")]


def test_break_glass_keeps_the_alarms_but_does_not_hand_them_to_ecs(tmp_path_factory: pytest.TempPathFactory) -> None:
    synth = _variant(tmp_path_factory, "break-glass", deployment={"break_glass": True})
    template = synth.template("dev", "stateless")
    configuration = _service(template)["DeploymentConfiguration"]
    assert "Alarms" not in configuration
    assert configuration["LifecycleHooks"]  # the new revision is still tested alone
    assert "download-service-dev-Deployment-5xx-Rate" in _alarms(template)  # and still notifies
    warnings = synth.warnings(synth.built.stages["dev"].stateless)
    assert [w for w in warnings if "break_glass" in w]


class _AnotherImage(ecr_assets.DockerImageAsset):
    """The service's image asset with other contents (a new commit): a new hash, tag and APP_VERSION."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, extra_hash="another release", **kwargs)


@pytest.fixture(scope="module")
def unrelated_change(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Dev with everything changed that a routine release changes, but nothing about routing: the image, the task
    size, scaling, settings, alarm thresholds, the traffic steps, and the stage-wide tags (the `stage` tag's value,
    and a new one such as a fork's cost-allocation tag)."""
    context = cdk_json_context()
    context[CONTEXT_KEY]["stages"]["dev"].update(
        max_tasks=7,
        cpu=1024,
        memory_mib=2048,
        log_level="debug",
        alarm_5xx_percent=2,
        alarm_p99_latency_ms=3000,
        alarm_error_logs=3,
        deployment={"strategy": "linear", "step_percent": 20, "step_bake_minutes": 3, "bake_minutes": 4},
    )
    built_stage = stage_module.ServiceStage.__init__

    def retagged(self: stage_module.ServiceStage, *args: Any, **kwargs: Any) -> None:
        built_stage(self, *args, **kwargs)  # before the pipeline synthesizes the stage (CDK Pipelines' add_stage)
        Tags.of(self).add("stage", "renamed")
        Tags.of(self).add("cost-center", "4711")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service_module.ecr_assets, "DockerImageAsset", _AnotherImage)
        patch.setattr(stage_module.ServiceStage, "__init__", retagged)
        app = new_app(context=context, outdir=str(tmp_path_factory.mktemp("unrelated")))
        dev = build(app).stages["dev"]
        app.synth()
    return Template.from_stack(dev.stateless)


def _untagged(resource: dict[str, Any]) -> dict[str, Any]:
    return {**resource, "Properties": {k: v for k, v in resource["Properties"].items() if k != "Tags"}}


def test_an_unrelated_change_leaves_the_rules_ecs_reweights_untouched(
    synth: Synth, dev_stateless: Template, unrelated_change: Template
) -> None:
    """aws-cdk#36649: CloudFormation resets a listener rule to its template when the rule's properties change.
    The rules ECS re-weights must not change with anything a routine release changes (image, settings, scaling,
    alarms, traffic steps, stage-wide tags), or a deploy would send production traffic to the idle target group."""
    before, after = dev_stateless.to_json()["Resources"], unrelated_change.to_json()["Resources"]
    routing = [
        logical_id
        for logical_id, resource in before.items()
        if resource["Type"] in (RULE, LISTENER, "AWS::ElasticLoadBalancingV2::TargetGroup")
    ]
    assert len(routing) == 6  # two listeners, two rules, two target groups
    for logical_id in routing:
        if before[logical_id]["Type"] == RULE:  # byte-identical: not even a tag changes
            assert json.dumps(after[logical_id], sort_keys=True) == json.dumps(before[logical_id], sort_keys=True)
        else:  # a listener's or target group's tags may change (ECS writes no weights there); nothing else
            assert _untagged(after[logical_id]) == _untagged(before[logical_id]), logical_id
    # ...while the release itself did change: its image, its size, its strategy, and every other tagged resource.
    service, task = _service(unrelated_change), only(unrelated_change.find_resources("AWS::ECS::TaskDefinition"))
    assert service["DeploymentConfiguration"]["Strategy"] == "LINEAR"
    assert (task["Properties"]["Cpu"], task["Properties"]["Memory"]) == ("1024", "2048")
    image = json.dumps(task["Properties"]["ContainerDefinitions"][0]["Image"])
    assert synth.built.stages["dev"].stateless.service.image_asset.asset_hash not in image
    assert {"Key": "cost-center", "Value": "4711"} in service["Tags"]
    assert {"Key": "stage", "Value": "renamed"} in service["Tags"]
    for resource in (before[i] for i in routing if before[i]["Type"] == RULE):
        assert resource["Properties"]["Tags"] == [{"Key": "service", "Value": "download-service"}]
        text = json.dumps(resource)
        assert "TaskDefinition" not in text  # nothing release-specific in a rule
        assert "Service" not in text
