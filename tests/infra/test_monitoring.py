"""Monitoring construct: dashboard, alarms and their SNS actions, deployment alarms, budget, topic, logs, queries.

The metric filters and queries are run over lines the real service writes in tests/integration/test_log_metrics.py
(it starts servers; this suite does not).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import load
from stages.config import ConfigError, StageConfig
from stages.monitoring.logs import LOG_METRICS, QUERIES
from stages.monitoring.metrics import MIN_REQUESTS_PER_MINUTE_FOR_RATE
from stages.monitoring.segments import SATURATED_PERCENT
from stages.monitoring.spend import Spend
from stages.monitoring.topic import AlarmTopic

from .conftest import Synth, only
from .test_config import base

STAGES = ("dev", "prod")
#: The 5xx-rate numerator, as the dashboard and the standing 5xx alarm compute it: the load balancer's own 5xx and
#: the service's server errors (its access lines, refusals left out), whichever target group answered.
FIVE_XX_SUM = "FILL(elb5xx, 0) + FILL(server5xx, 0)"


def _stage(synth: Synth, name: str) -> tuple[StageConfig, Template]:
    return synth.built.config.stages[name], synth.template(name, "stateless")


def _topic_ref(template: Template) -> dict[str, str]:
    return {"Ref": only_key(template.find_resources("AWS::SNS::Topic"))}


def only_key(resources: dict[str, Any]) -> str:
    assert len(resources) == 1, sorted(resources)
    return next(iter(resources))


# ---- dashboard ----------------------------------------------------------------------------------------------------


def _dashboard(template: Template) -> dict[str, Any]:
    """The dashboard body as JSON, CloudFormation references replaced by a placeholder."""
    body = only(template.find_resources("AWS::CloudWatch::Dashboard"))["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return json.loads("".join(part if isinstance(part, str) else "REF" for part in parts))


def _dashboard_metrics(template: Template) -> set[tuple[str, str, str, str | None]]:
    """(namespace, metric, statistic, region) of every metric line of every widget."""
    found = set()
    for widget in _dashboard(template)["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            if isinstance(line[0], str):
                options = line[-1] if isinstance(line[-1], dict) else {}
                found.add((line[0], line[1], options.get("stat", "Average"), options.get("region")))
    return found


def _expressions(template: Template) -> list[str]:
    return [
        line[0]["expression"]
        for widget in _dashboard(template)["widgets"]
        for line in widget.get("properties", {}).get("metrics", [])
        if isinstance(line[0], dict) and "expression" in line[0]
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_dashboard_shows_every_listed_metric(synth: Synth, stage: str) -> None:
    _, template = _stage(synth, stage)
    metrics = {(ns, name, stat) for ns, name, stat, _ in _dashboard_metrics(template)}
    ecs, insights, alb = "AWS/ECS", "ECS/ContainerInsights", "AWS/ApplicationELB"
    counts = {(insights, "DesiredTaskCount", "Average"), (insights, "PendingTaskCount", "Average")}
    if synth.built.config.stages[stage].tasks.container_insights:
        expected = counts  # running / desired / pending tasks (Container Insights)
    else:  # a lean stage: the healthy targets stand in for the task count
        expected = {(alb, "HealthyHostCount", "Minimum")}
        assert not counts & metrics
    expected |= {
        (insights, "RunningTaskCount", "Average"),  # the library's Task Health widget draws it either way
        # CPU and memory, average and max (p100)
        (ecs, "CPUUtilization", "Average"),
        (ecs, "CPUUtilization", "p100"),
        (ecs, "MemoryUtilization", "Average"),
        (ecs, "MemoryUtilization", "p100"),
        # requests, and per target
        (alb, "RequestCount", "Sum"),
        (alb, "RequestCountPerTarget", "Sum"),
        # 4xx / 5xx, from the ELB itself and from the targets
        (alb, "HTTPCode_ELB_4XX_Count", "Sum"),
        (alb, "HTTPCode_ELB_5XX_Count", "Sum"),
        (alb, "HTTPCode_Target_4XX_Count", "Sum"),
        (alb, "HTTPCode_Target_5XX_Count", "Sum"),
        # target response time percentiles
        (alb, "TargetResponseTime", "p50"),
        (alb, "TargetResponseTime", "p90"),
        (alb, "TargetResponseTime", "p99"),
    }
    assert expected <= metrics, sorted(expected - metrics)
    names = {name for _, name, _ in metrics}
    assert {"HealthyHostCount", "UnHealthyHostCount", "ActiveConnectionCount"} <= names
    assert {spec.name for spec in LOG_METRICS} <= names
    assert any(FIVE_XX_SUM in expression for expression in _expressions(template))


def test_estimated_charges_are_read_in_us_east_1(dev_stateless: Template) -> None:
    charges = [m for m in _dashboard_metrics(dev_stateless) if m[1] == "EstimatedCharges"]
    assert charges
    assert {region for *_, region in charges} == {"us-east-1"}


def test_dashboard_name_and_url_output(synth: Synth) -> None:
    for stage in STAGES:
        config, template = _stage(synth, stage)
        dashboard = only(template.find_resources("AWS::CloudWatch::Dashboard"))["Properties"]
        assert dashboard["DashboardName"] == f"download-service-{stage}"
        url = template.to_json()["Outputs"]["DashboardUrl"]["Value"]
        assert url == (
            f"https://{config.region}.console.aws.amazon.com/cloudwatch/home?region={config.region}"
            f"#dashboards/dashboard/download-service-{stage}"
        )


# ---- alarms -------------------------------------------------------------------------------------------------------


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["AlarmName"]: resource["Properties"]
        for resource in template.find_resources("AWS::CloudWatch::Alarm").values()
    }


def _single_metric(alarm: dict[str, Any]) -> tuple[str, str, str, int]:
    """(namespace, metric, statistic, period) of a one-metric alarm, in either of CloudFormation's two forms."""
    if "MetricName" in alarm:
        return (
            alarm["Namespace"],
            alarm["MetricName"],
            alarm.get("Statistic") or alarm["ExtendedStatistic"],
            alarm["Period"],
        )
    (query,) = alarm["Metrics"]
    stat = query["MetricStat"]
    return stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"], stat["Period"]


def expected_alarms(config: StageConfig) -> dict[str, tuple[str, float]]:
    """Alarm name -> (comparison, threshold), from the stage's config."""
    prefix = f"download-service-{config.name}"
    return {
        f"{prefix}-Traffic-5xx-Rate-Critical": ("GreaterThanThreshold", config.alarms.five_xx_percent),
        f"{prefix}-Traffic-Latency-P99-Warning": ("GreaterThanThreshold", config.alarms.p99_latency_ms / 1000),
        f"{prefix}-Tasks-Unhealthy-Targets-Critical": ("GreaterThanThreshold", 0),
        f"{prefix}-Tasks-Running-Critical": ("LessThanThreshold", config.tasks.min_tasks),
        f"{prefix}-Tasks-Saturated-Warning": ("GreaterThanOrEqualToThreshold", SATURATED_PERCENT),
        f"{prefix}-Service-CPU-Usage-Warning": ("GreaterThanThreshold", config.alarms.cpu_percent),
        f"{prefix}-Service-Memory-Usage-Warning": ("GreaterThanThreshold", config.alarms.memory_percent),
        f"{prefix}-Logs-Error-Logs-Critical": ("GreaterThanOrEqualToThreshold", config.alarms.error_logs),
        f"{prefix}-Deployment-5xx-Rate": ("GreaterThanThreshold", config.alarms.five_xx_percent),
        f"{prefix}-Probe-Success-Critical": ("LessThanThreshold", 100),
        f"{prefix}-Probe-Silent-Warning": ("LessThanThreshold", 1),
        f"{prefix}-Alb-Elb-5xx-Rate-Critical": ("GreaterThanThreshold", config.alarms.five_xx_percent),
        f"{prefix}-Alb-Target-Connection-Errors-Warning": ("GreaterThanThreshold", 0),
        f"{prefix}-Alb-Rejected-Connections-Warning": ("GreaterThanThreshold", 0),
        # The WAF (production only by default) alarms on a surge of blocks.
        **(
            {f"{prefix}-Waf-Blocked-Warning": ("GreaterThanThreshold", config.edge.waf_block_alarm)}
            if config.edge.waf
            else {}
        ),
    }


@pytest.mark.parametrize("stage", STAGES)
def test_each_alarm_has_its_stage_threshold_and_notifies_on_alarm_and_ok(synth: Synth, stage: str) -> None:
    config, template = _stage(synth, stage)
    alarms = _alarms(template)
    expected = expected_alarms(config)
    assert set(alarms) == set(expected)
    topic = _topic_ref(template)
    for name, (operator, threshold) in expected.items():
        alarm = alarms[name]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (operator, threshold), name
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["OKActions"] == [topic], name
        assert alarm.get("ActionsEnabled", True) is True, name


def test_thresholds_differ_per_stage(synth: Synth) -> None:
    dev, prod = synth.built.config.stages["dev"], synth.built.config.stages["prod"]
    assert prod.alarms.five_xx_percent < dev.alarms.five_xx_percent
    assert prod.alarms.p99_latency_ms < dev.alarms.p99_latency_ms
    assert prod.alarms.error_logs < dev.alarms.error_logs


def _metric_math(expression: str, values: dict[str, float | None]) -> float | None:
    """One datapoint of a CloudWatch metric math expression made of IF, FILL(<id>, <number>), arithmetic and
    comparisons. Like CloudWatch: a missing input (None) makes the datapoint missing unless FILL replaces it, and IF
    evaluates only the branch its condition picks. Anything else raises, so the test cannot pass on what it did
    not understand."""
    filled = re.sub(
        r"FILL\(([A-Za-z_]\w*), ([\d.]+)\)",
        lambda m: repr(float(m.group(2)) if values.get(m.group(1)) is None else float(values[m.group(1)])),
        expression,
    )

    def evaluate(text: str) -> float | None:
        text = text.strip()
        if text.startswith("IF(") and text.endswith(")"):
            args, depth, current = [], 0, ""
            for char in text[3:-1]:
                depth += {"(": 1, ")": -1}.get(char, 0)
                if char == "," and depth == 0:
                    args, current = [*args, current], ""
                else:
                    current += char
            condition, when_true, when_false = [*args, current]
            result = evaluate(condition)
            return None if result is None else evaluate(when_true if result else when_false)
        assert re.fullmatch(r"[\w\s.+\-*/()<>=]+", text), text
        if any(values.get(name) is None for name in re.findall(r"[A-Za-z_]\w*", text)):
            return None  # an input without a datapoint: no datapoint
        return eval(text, {"__builtins__": {}}, dict(values))  # noqa: S307  # nosec B307 - checked arithmetic

    return evaluate(filled)


def test_five_xx_rate_counts_server_errors_and_the_load_balancers_own_not_refusals(dev_stateless: Template) -> None:
    """The ALB's HTTPCode_Target_5XX_Count would count the service's busy 503 (a refusal any client can provoke), so
    the rate reads the service's `Http5xx` log metric instead (server errors only: tests/integration/
    test_log_metrics.py runs its filter over real refusals and real failures) plus what the ALB answered itself."""
    rate = _alarms(dev_stateless)["download-service-dev-Traffic-5xx-Rate-Critical"]
    floor = MIN_REQUESTS_PER_MINUTE_FOR_RATE * 5
    (expression,) = [m["Expression"] for m in rate["Metrics"] if "Expression" in m]
    inputs = {m["Id"]: m["MetricStat"]["Metric"] for m in rate["Metrics"] if "MetricStat" in m}
    by_name = {(metric.get("Namespace"), metric["MetricName"]): metric_id for metric_id, metric in inputs.items()}
    assert sorted(by_name) == [
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
        ("AWS/ApplicationELB", "RequestCount"),
        ("download-service/dev", "Http5xx"),
    ]
    assert "Dimensions" not in inputs[by_name["download-service/dev", "Http5xx"]]  # every task, every version

    def rate_for(requests, elb, server):
        ids = [by_name["AWS/ApplicationELB", "RequestCount"], by_name["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"]]
        values = {ids[0]: requests, ids[1]: elb, by_name["download-service/dev", "Http5xx"]: server}
        return _metric_math(expression, values)

    # The ALB publishes 5xx counts only for periods that had some: a bad release shows server errors and no ELB 5xx.
    assert rate_for(100, None, 30) == 30.0
    assert rate_for(100, 10, None) == 10.0
    assert rate_for(100, 5, 5) == 10.0
    assert rate_for(100, None, None) == 0.0
    assert rate_for(floor - 1, None, 2) == 0.0  # a handful of requests is not an outage
    assert rate_for(floor, None, 2) == 100 * 2 / floor  # as many as the floor: the rate counts
    assert rate_for(None, None, None) == 0.0  # no traffic at all
    assert rate["TreatMissingData"] == "notBreaching"
    assert not [m for m in inputs.values() if m["MetricName"] == "HTTPCode_Target_5XX_Count"]


def test_running_tasks_alarm_does_not_read_missing_data_as_an_outage(prod_stateless: Template) -> None:
    """Container Insights has no data for a service it has not seen yet: a new stage's first minutes. (A lean
    stage's alarm reads healthy targets instead: tests/infra/test_lean.py.)"""
    running = _alarms(prod_stateless)["download-service-prod-Tasks-Running-Critical"]
    assert _single_metric(running) == ("ECS/ContainerInsights", "RunningTaskCount", "Average", 60)
    assert running["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("stage", STAGES)
def test_a_fresh_stage_is_not_critical_no_critical_alarm_reads_missing_data_as_failure(synth: Synth, stage: str):
    """The pipeline's entry condition reads the Critical composite minutes after a stage's first deploy: every alarm
    in it must stay out of ALARM while its metrics have no data yet ("breaching: missing data points are treated
    as bad", CloudWatch's alarms-and-missing-data guide)."""
    template = synth.template(stage, "stateless")
    composite = json.dumps(only(template.find_resources("AWS::CloudWatch::CompositeAlarm"))["Properties"])
    members = {
        k: v["Properties"] for k, v in template.find_resources("AWS::CloudWatch::Alarm").items() if k in composite
    }
    assert members
    breaching = [p["AlarmName"] for p in members.values() if p.get("TreatMissingData", "missing") == "breaching"]
    assert breaching == []


def test_a_silent_probe_is_a_warning_of_its_own(synth: Synth, dev_stateless: Template) -> None:
    alarms = _alarms(dev_stateless)
    silent = alarms["download-service-dev-Probe-Silent-Warning"]
    every = 60 * synth.built.config.stages["dev"].probe.every_minutes  # one period per run
    assert _single_metric(silent)[1:] == ("SuccessPercent", "SampleCount", every)
    assert (silent["Threshold"], silent["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert silent["TreatMissingData"] == "breaching"  # no run at all is what it is for
    assert (silent["EvaluationPeriods"], silent["DatapointsToAlarm"]) == (3, 3)
    success = alarms["download-service-dev-Probe-Success-Critical"]
    assert success["TreatMissingData"] == "notBreaching"
    composite = json.dumps(only(dev_stateless.find_resources("AWS::CloudWatch::CompositeAlarm")))
    silent_id = next(k for k, v in dev_stateless.find_resources("AWS::CloudWatch::Alarm").items()
                     if v["Properties"]["AlarmName"] == "download-service-dev-Probe-Silent-Warning")  # fmt: skip
    assert silent_id not in composite


def test_the_probe_starts_once_the_stage_serves(dev_stateless: Template, prod_stateless: Template) -> None:
    for template in (dev_stateless, prod_stateless):
        resources = template.to_json()["Resources"]
        (probe,) = [r for r in resources.values() if r["Type"] == "AWS::Synthetics::Canary"]
        depends = set(probe.get("DependsOn", []))
        kinds = {resources[d]["Type"] for d in depends}
        assert {"AWS::ECS::Service", "Custom::AWS"} <= kinds  # the service is stable and the canary object seeded
    prod = prod_stateless.to_json()["Resources"]
    (probe,) = [r for r in prod.values() if r["Type"] == "AWS::Synthetics::Canary"]
    assert "AWS::Route53::RecordSet" in {prod[d]["Type"] for d in probe["DependsOn"]}  # and its name resolves


def test_saturation_alarm_reads_the_busiest_task_of_the_slots_scaling_tracks(dev_stateless: Template) -> None:
    saturated = _alarms(dev_stateless)["download-service-dev-Tasks-Saturated-Warning"]
    # Maximum, not the Average scaling tracks: one task full of slow clients refuses downloads while others idle.
    assert _single_metric(saturated) == ("download-service/dev", "DownloadSlotUtilization", "Maximum", 60)
    assert (saturated["EvaluationPeriods"], saturated["DatapointsToAlarm"]) == (5, 5)
    # No tasks writing metrics is the running-tasks alarm's business, not a saturation.
    assert saturated["TreatMissingData"] == "notBreaching"


# ---- topic --------------------------------------------------------------------------------------------------------


def test_topic_is_ssl_only_kms_encrypted_and_open_to_cloudwatch_and_budgets_of_this_account(
    dev_stateless: Template,
) -> None:
    topic_id = only_key(dev_stateless.find_resources("AWS::SNS::Topic"))
    key_id = only_key(dev_stateless.find_resources("AWS::KMS::Key"))
    topic = dev_stateless.find_resources("AWS::SNS::Topic")[topic_id]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    statements = only(dev_stateless.find_resources("AWS::SNS::TopicPolicy"))["Properties"]["PolicyDocument"][
        "Statement"
    ]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": {"Ref": topic_id},
            "Sid": "AllowPublishThroughSSLOnly",
        }
    ]
    allows = {s["Principal"]["Service"]: s for s in statements if s["Effect"] == "Allow"}
    assert set(allows) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    assert allows["budgets.amazonaws.com"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:budgets::123456789012:*"},
    }
    assert allows["cloudwatch.amazonaws.com"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*"
    }
    for statement in allows.values():
        assert statement["Action"] == "sns:Publish"
        assert statement["Resource"] == {"Ref": topic_id}

    key = dev_stateless.find_resources("AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    grants = {
        s["Principal"]["Service"]: s for s in key["KeyPolicy"]["Statement"] if "Service" in s.get("Principal", {})
    }
    assert set(grants) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    for service, grant in grants.items():
        assert grant["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert grant["Condition"] == allows[service]["Condition"]


def test_email_subscription_only_where_configured(dev_stateless: Template, prod_stateless: Template) -> None:
    assert dev_stateless.find_resources("AWS::SNS::Subscription") == {}
    subscription = only(prod_stateless.find_resources("AWS::SNS::Subscription"))["Properties"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ops@example.com")
    assert subscription["TopicArn"] == _topic_ref(prod_stateless)


# ---- spend --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_budget_notifies_the_topic_on_actual_and_forecasted_spend(synth: Synth, stage: str) -> None:
    config, template = _stage(synth, stage)
    budgets = template.find_resources("AWS::Budgets::Budget")
    budget = only(budgets)
    properties = budget["Properties"]
    assert properties["Budget"]["BudgetName"] == f"download-service-{stage}"
    assert properties["Budget"]["BudgetLimit"] == {"Amount": config.budget.monthly_usd, "Unit": "USD"}
    assert (properties["Budget"]["BudgetType"], properties["Budget"]["TimeUnit"]) == ("COST", "MONTHLY")
    if config.budget.scope == "account":
        assert "CostFilters" not in properties["Budget"]
    else:  # stages sharing an account: each counts only what is tagged with its name
        assert properties["Budget"]["CostFilters"] == {"TagKeyValue": [f"user:stage${stage}"]}
    notifications = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]): n
        for n in properties["NotificationsWithSubscribers"]
    }
    assert set(notifications) == {("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)}
    for notification in notifications.values():
        assert notification["Notification"]["ThresholdType"] == "PERCENTAGE"
        assert notification["Subscribers"] == [{"Address": _topic_ref(template), "SubscriptionType": "SNS"}]
    # Budgets checks its publish permission when the budget is created: the topic policy must exist first.
    policy = only_key(template.find_resources("AWS::SNS::TopicPolicy"))
    assert policy in budget["DependsOn"]


def _spend_template(config: StageConfig) -> tuple[Template, Spend]:
    app = cdk.App()
    stack = cdk.Stack(app, "Spend", env=cdk.Environment(account=config.account, region=config.region))
    topic = AlarmTopic(stack, "Alarms", stage_name=config.name, email=None)
    spend = Spend(stack, "Spend", stage_name=config.name, config=config.budget, topic=topic.topic)
    return Template.from_stack(stack), spend


def test_budget_scoped_to_the_stage_tag_or_absent_without_a_limit(synth: Synth) -> None:
    dev = synth.built.config.stages["dev"]
    template, _ = _spend_template(dataclasses.replace(dev, budget=dataclasses.replace(dev.budget, scope="stage")))
    budget = only(template.find_resources("AWS::Budgets::Budget"))["Properties"]["Budget"]
    assert budget["CostFilters"] == {"TagKeyValue": ["user:stage$dev"]}
    template, spend = _spend_template(
        dataclasses.replace(dev, budget=dataclasses.replace(dev.budget, monthly_usd=None))
    )
    assert template.find_resources("AWS::Budgets::Budget") == {}
    assert spend.budget is None


# ---- logs ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_task_log_group_keeps_logs_for_the_configured_days(synth: Synth, stage: str) -> None:
    config, template = _stage(synth, stage)
    groups = template.find_resources("AWS::Logs::LogGroup")
    task = only(template.find_resources("AWS::ECS::TaskDefinition"))["Properties"]
    (container,) = task["ContainerDefinitions"]
    task_group = container["LogConfiguration"]["Options"]["awslogs-group"]["Ref"]
    assert groups[task_group]["Properties"]["RetentionInDays"] == config.logs.retention_days
    # Every log group of the stack expires: none is left at CloudWatch's "never expire".
    assert all("RetentionInDays" in group["Properties"] for group in groups.values())
    for metric_filter in template.find_resources("AWS::Logs::MetricFilter").values():
        assert metric_filter["Properties"]["LogGroupName"] == {"Ref": task_group}
    for query in template.find_resources("AWS::Logs::QueryDefinition").values():
        assert query["Properties"]["LogGroupNames"] == [{"Ref": task_group}]


def test_error_alarm_counts_the_error_log_filter(dev_stateless: Template) -> None:
    alarm = _alarms(dev_stateless)["download-service-dev-Logs-Error-Logs-Critical"]
    assert _single_metric(alarm) == ("download-service/dev", "ErrorLogs", "Sum", 300)


# ---- saved queries ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_saved_queries_exist_for_the_stage(synth: Synth, stage: str) -> None:
    _, template = _stage(synth, stage)
    queries = {
        q["Properties"]["Name"]: q["Properties"]["QueryString"]
        for q in template.find_resources("AWS::Logs::QueryDefinition").values()
    }
    assert set(queries) == {f"download-service/{stage}/{name}" for name in QUERIES}
    text = {name.rsplit("/", 1)[1]: query for name, query in queries.items()}
    assert "stats count(*) as failures by status, path" in text["Top failing paths"]
    assert "pct(duration_ms, 99)" in text["Latency percentiles"]
    assert "worker_boot" in text["Worker restarts"]
    assert '"sigterm"' in text["Start-up and shutdown timeline"]


# ---- config -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("alarm_5xx_percent", 0, "stages.dev.alarm_5xx_percent: a percentage above 0 and at most 100"),
        ("alarm_p99_latency_ms", 1.5, "stages.dev.alarm_p99_latency_ms: must be an integer"),
        ("alarm_cpu_percent", 120, "stages.dev.alarm_cpu_percent: a whole percentage between 1 and 100"),
        ("alarm_memory_percent", 0, "stages.dev.alarm_memory_percent: a whole percentage between 1 and 100"),
        ("alarm_error_logs", 0, "stages.dev.alarm_error_logs: at least 1"),
        ("budget_scope", "org", "stages.dev.budget_scope: one of account, stage"),
    ],
)
def test_monitoring_config_errors_name_the_field(field: str, value: Any, message: str) -> None:
    raw = base()
    raw["stages"]["dev"][field] = value
    with pytest.raises(ConfigError) as caught:
        load(raw)
    assert str(caught.value).startswith(f"cdk.json: {message}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("stage", STAGES)
def test_every_log_metric_is_a_filter_on_the_task_log_group(synth: Synth, stage: str) -> None:
    """What tests/integration/test_log_metrics.py proves the patterns count, as the template deploys it."""
    _, template = _stage(synth, stage)
    filters = {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"]
        for f in template.find_resources("AWS::Logs::MetricFilter").values()
    }
    assert set(filters) == {spec.name for spec in LOG_METRICS}
    for spec in LOG_METRICS:
        (transformation,) = filters[spec.name]["MetricTransformations"]
        assert filters[spec.name]["FilterPattern"] == spec.pattern.log_pattern_string
        assert transformation["MetricNamespace"] == f"download-service/{stage}"
        assert transformation["MetricValue"] == "1"
        if spec.dimensions:
            assert transformation["Dimensions"] == [{"Key": k, "Value": v} for k, v in spec.dimensions.items()]
            assert "DefaultValue" not in transformation
        else:
            assert transformation["DefaultValue"] == 0
