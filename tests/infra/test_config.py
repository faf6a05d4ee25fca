"""cdk.json config: loads, and every class of mistake gives one line naming the field."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import load
from stages.config import CDK_JSON, CONTEXT_KEY, LOG_RETENTION_DAYS, ConfigError, cdk_json_context

REPO_ROOT = CDK_JSON.parent


def base() -> dict[str, Any]:
    return copy.deepcopy(cdk_json_context()[CONTEXT_KEY])


def test_cdk_json_loads() -> None:
    config = load(base())
    assert set(config.stages) >= {"dev", "prod"}
    prod = config.stages["prod"]
    assert prod.production
    assert prod.domain.https
    assert prod.protect
    assert not config.stages["dev"].production
    assert not config.stages["dev"].protect
    assert prod.tasks.min_tasks >= 2
    assert prod.availability_zones == ()  # the account's first two, at deploy time


def test_lean_stages_run_the_lean_footprint_and_production_the_full_one() -> None:
    config = load(base())
    for name in ("dev", "sandbox"):
        stage = config.stages[name]
        assert stage.lean
        assert (stage.tasks.min_tasks, stage.tasks.capacity, stage.tasks.container_insights) == (1, "spot", False)
        assert (stage.network.endpoint_azs, stage.probe.every_minutes) == (1, 15)
    prod = config.stages["prod"]
    assert (prod.tasks.min_tasks, prod.tasks.capacity, prod.tasks.container_insights) == (2, "on_demand", True)
    assert (prod.network.endpoint_azs, prod.probe.every_minutes) == (2, 5)


def test_a_lean_stage_can_keep_any_part_of_the_full_footprint() -> None:
    raw = base()
    raw["stages"]["dev"].update(min_tasks=2, container_insights=True)
    dev = load(raw).stages["dev"]
    assert (dev.tasks.min_tasks, dev.tasks.container_insights, dev.tasks.capacity) == (2, True, "spot")


def test_explicit_availability_zones() -> None:
    raw = base()
    raw["stages"]["dev"]["availability_zones"] = ["eu-west-1b", "eu-west-1c"]
    assert load(raw).stages["dev"].availability_zones == ("eu-west-1b", "eu-west-1c")


def test_stage_values_override_defaults() -> None:
    raw = base()
    raw["defaults"]["max_tasks"] = 3
    raw["stages"]["dev"]["max_tasks"] = 5
    config = load(raw)
    assert config.stages["dev"].tasks.max_tasks == 5
    assert config.stages["sandbox"].tasks.max_tasks == 3


def test_deletion_protection_can_be_set_explicitly() -> None:
    raw = base()
    raw["stages"]["dev"]["deletion_protection"] = True
    assert load(raw).stages["dev"].protect


def _set(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
    if value is _DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value


_DELETE = object()

CASES = [
    # (field to change, new value, expected error line)
    ("defaults.account", 123456789012, "cdk.json: defaults.account: must be a string (a 12-digit string (quoted))"),
    ("stages.dev.account", "12345", "cdk.json: stages.dev.account: '12345' is not a 12-digit string (quoted)"),
    (
        "stages.dev.account",
        "123456789012\n",
        "cdk.json: stages.dev.account: '123456789012\\n' is not a 12-digit string (quoted)",
    ),
    ("stages.dev.region", "eu-west-1\n", "cdk.json: stages.dev.region: 'eu-west-1\\n' is not an AWS region"),
    ("stages.dev.deletion_protection", "on", "cdk.json: stages.dev.deletion_protection: must be true or false"),
    ("defaults.account", _DELETE, "cdk.json: stages.sandbox.account: required"),
    ("stages.prod.region", "Europe", "cdk.json: stages.prod.region: 'Europe' is not an AWS region such as eu-west-1"),
    ("stages.dev.availability_zones", ["eu-west-1a"], "cdk.json: stages.dev.availability_zones: list exactly 2"),
    (
        "stages.dev.availability_zones",
        ["us-east-1a", "us-east-1b"],
        "cdk.json: stages.dev.availability_zones: 'us-east-1a' is not an availability zone of eu-west-1",
    ),
    ("stages.dev.availability_zones", "eu-west-1a", "cdk.json: stages.dev.availability_zones: must be a list"),
    ("stages.dev.cpu", 300, "cdk.json: stages.dev.cpu: 300 is not a Fargate cpu size"),
    ("stages.dev.memory_mib", 512, "cdk.json: stages.dev.memory_mib: 512 is not valid with cpu 512"),
    ("stages.dev.cpu", "512", "cdk.json: stages.dev.cpu: must be an integer, not '512'"),
    ("stages.dev.min_tasks", 0, "cdk.json: stages.dev.min_tasks: at least 1"),
    ("stages.sandbox.max_tasks", 0, "cdk.json: stages.sandbox.max_tasks: must be >= min_tasks (1)"),
    # production keeps the full footprint (design §12); `lean` is for the other stages
    ("stages.prod.min_tasks", 1, "cdk.json: stages.prod.min_tasks: at least 2 in production"),
    ("stages.prod.lean", True, "cdk.json: stages.prod.lean: only for non-production stages"),
    ("stages.prod.capacity", "spot", "cdk.json: stages.prod.capacity: production runs on on_demand capacity"),
    ("stages.prod.endpoint_azs", 1, "cdk.json: stages.prod.endpoint_azs: 2 in production"),
    ("stages.dev.capacity", "cheap", "cdk.json: stages.dev.capacity: one of on_demand, spot"),
    ("stages.dev.endpoint_azs", 3, "cdk.json: stages.dev.endpoint_azs: 1 or 2"),
    ("stages.dev.probe_every_minutes", 90, "cdk.json: stages.dev.probe_every_minutes: minutes between 1 and 60"),
    ("stages.dev.container_insights", "no", "cdk.json: stages.dev.container_insights: must be true or false"),
    ("stages.dev.requests_per_target", 0, "cdk.json: stages.dev.requests_per_target: must be a positive number"),
    ("stages.dev.log_retention_days", 10, "cdk.json: stages.dev.log_retention_days: 10 is not a CloudWatch Logs"),
    ("defaults.log_level", "loud", "cdk.json: defaults.log_level: one of debug, info, warning, error, critical"),
    ("stages.dev.vpc_cidr", "10.0.0.0/8", "cdk.json: stages.dev.vpc_cidr: use a /16 to /22 block"),
    ("stages.dev.vpc_cidr", "10.0.0.300/16", "cdk.json: stages.dev.vpc_cidr: '10.0.0.300/16' is not an IPv4 CIDR"),
    ("stages.dev.files_prefix", "/public/", "cdk.json: stages.dev.files_prefix: S3 key prefixes do not start with '/'"),
    ("stages.dev.production", "yes", "cdk.json: stages.dev.production: must be true or false, not 'yes'"),
    ("stages.prod.domain_name", _DELETE, "cdk.json: stages.prod.domain_name: required when production is true"),
    (
        "stages.prod.domain_name",
        "Download.Example.com",
        "cdk.json: stages.prod.domain_name: 'Download.Example.com' is not",
    ),
    (
        "stages.prod.domain_name",
        "download.other.org",
        "cdk.json: stages.prod.domain_name: 'download.other.org' is not inside",
    ),
    ("stages.prod.hosted_zone", _DELETE, "cdk.json: stages.prod.hosted_zone: required when domain_name is set"),
    ("stages.prod.hosted_zone.id", "zone-1", "cdk.json: stages.prod.hosted_zone.id: 'zone-1' is not a Route 53 hosted"),
    ("stages.prod.hosted_zone.name", _DELETE, "cdk.json: stages.prod.hosted_zone.name: required"),
    ("stages.prod.hosted_zone.ttl", 60, "cdk.json: stages.prod.hosted_zone.ttl: unknown field (known: id, name)"),
    (
        "stages.dev.hosted_zone",
        {"id": "Z123", "name": "example.com"},
        "cdk.json: stages.dev.domain_name: required when",
    ),
    ("stages.prod.alarm_email", "ops", "cdk.json: stages.prod.alarm_email: 'ops' is not an e-mail address"),
    ("stages.prod.monthly_budget_usd", -5, "cdk.json: stages.prod.monthly_budget_usd: must be a positive amount"),
    ("stages.dev.max_task", 4, "cdk.json: stages.dev.max_task: unknown field"),
    # two account-wide budgets in one account would each count the other's spend
    ("stages.dev.budget_scope", "account", "cdk.json: stages.prod.budget_scope: 'account' would also count 'dev'"),
    ("stages.prod.budget_scope", "everything", "cdk.json: stages.prod.budget_scope: one of account, stage"),
    # download-service-<stage>-files-<12 digits>-<region> must fit S3's 63 characters
    (
        "stages.abcdefghijklmnop",
        {"region": "ap-southeast-2"},
        "cdk.json: stages.abcdefghijklmnop: the files bucket name",
    ),
    ("defaults.regoin", "eu-west-1", "cdk.json: defaults.regoin: unknown field"),
    # a newcomer's region change: the pipeline stays where its connection is, or a region CDK cannot place
    ("defaults.region", "us-east-1", "cdk.json: pipeline.connection_arn: the pipeline runs in eu-west-1 (its conn"),
    ("defaults.region", "eu-west-9", "cdk.json: defaults.region: 'eu-west-9' is not a known AWS region"),
    ("stages.sandbox.region", "eu-west-9", "cdk.json: stages.sandbox.region: 'eu-west-9' is not a known AWS region"),
    ("dns", {"zone_name": "example.com", "account": "123456789012", "region": "eu-west-9"}, "cdk.json: dns.region:"),
    ("stages.Dev", {}, "cdk.json: stages.Dev: stage names are 1-16 lowercase letters/digits"),
    ("stages.qa", [], "cdk.json: stages.qa: must be an object, not list"),
    ("stages", {}, "cdk.json: stages: define at least one stage"),
    ("pipline", {}, "cdk.json: pipline: unknown field"),
    ("dns", {"zone_name": "example.com", "region": "eu-west-1"}, "cdk.json: dns.account: required"),
    # the release strategy (stages/config/deployment.py): ECS's own limits, refused at synth
    ("stages.dev.deployment", {"strategy": "big_bang"}, "cdk.json: stages.dev.deployment.strategy: one of rolling,"),
    ("defaults.deployment", {"strategy": "x"}, "cdk.json: defaults.deployment.strategy: one of rolling, blue_green"),
    ("stages.prod.deployment", {"strategy": "rolling"}, "cdk.json: stages.prod.deployment.strategy: production"),
    (
        "stages.dev.deployment",
        {"strategy": "blue_green", "step_percent": 10},
        "cdk.json: stages.dev.deployment.step_percent: only canary and linear shift traffic in steps",
    ),
    (
        "stages.dev.deployment",
        {"strategy": "linear", "step_percent": 2},
        "cdk.json: stages.dev.deployment.step_percent: linear steps are 3-100 %",
    ),
    ("stages.dev.deployment", {"step_percent": 10.05}, "cdk.json: stages.dev.deployment.step_percent: canary steps"),
    ("stages.dev.deployment", {"bake_minutes": 2000}, "cdk.json: stages.dev.deployment.bake_minutes: minutes between"),
    (
        "stages.dev.deployment",
        {"circuit_breaker": True},
        "cdk.json: stages.dev.deployment.circuit_breaker: ECS offers the circuit breaker with rolling",
    ),
    (
        "stages.dev.deployment",
        {"strategy": "rolling", "bake_minutes": 5},
        "cdk.json: stages.dev.deployment.bake_minutes: a rolling deployment has no bake time",
    ),
    ("stages.dev.deployment", {"canary": 5}, "cdk.json: stages.dev.deployment.canary: unknown field"),
    ("stages.dev.deployment", "canary", "cdk.json: stages.dev.deployment: must be an object, not str"),
    ("stages.dev.deployment", {"break_glass": "yes"}, "cdk.json: stages.dev.deployment.break_glass: must be true"),
    # the edge (stages/config/edge.py): AWS WAF's own limits
    ("stages.prod.edge", {"waf_rate_limit": 5}, "cdk.json: stages.prod.edge.waf_rate_limit: requests per 5 minutes"),
    ("stages.prod.edge", {"waf": "on"}, "cdk.json: stages.prod.edge.waf: must be true or false, not 'on'"),
    ("stages.prod.edge", {"hsts_max_age_days": -1}, "cdk.json: stages.prod.edge.hsts_max_age_days: days between"),
    ("stages.prod.edge", {"waf_block_alarm": 0}, "cdk.json: stages.prod.edge.waf_block_alarm: at least 1"),
    ("stages.dev.edge", {"tls": True}, "cdk.json: stages.dev.edge.tls: unknown field"),
]


@pytest.mark.parametrize(("field", "value", "message"), CASES, ids=[case[0] + "=" + repr(case[1]) for case in CASES])
def test_invalid_field_gives_one_line_naming_it(field: str, value: Any, message: str) -> None:
    raw = base()
    _set(raw, field, value)
    with pytest.raises(ConfigError) as caught:
        load(raw)
    text = str(caught.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_missing_context_key() -> None:
    with pytest.raises(ConfigError, match=r"^cdk.json: download-service: missing from the cdk.json context$"):
        load(None)


def test_every_retention_period_maps_to_the_cdk_enum() -> None:
    from aws_cdk import aws_logs as logs

    from stages.common.retention import retention_days

    assert retention_days(30) is logs.RetentionDays.ONE_MONTH
    assert retention_days(365) is logs.RetentionDays.ONE_YEAR
    assert retention_days(3653) is logs.RetentionDays.TEN_YEARS
    assert len({retention_days(days) for days in LOG_RETENTION_DAYS}) == len(LOG_RETENTION_DAYS)


APP_PY_CASES = [
    ("stages.prod.domain_name", _DELETE, "stages.prod.domain_name: required when production is true (prod serves"),
    # what a newcomer tries first: only `region` changed (27 lines of nag traceback before), or a plausible typo
    ("defaults.region", "us-east-1", "pipeline.connection_arn: the pipeline runs in eu-west-1 (its connection's"),
    ("defaults.region", "eu-west-9", "defaults.region: 'eu-west-9' is not a known AWS region"),
]


@pytest.mark.parametrize(
    ("field", "value", "message"), APP_PY_CASES, ids=[case[0] + "=" + repr(case[1]) for case in APP_PY_CASES]
)
def test_app_py_exits_with_the_one_line(tmp_path: Path, field: str, value: Any, message: str) -> None:
    """What a user sees from `cdk synth` with a wrong cdk.json: app.py's one line on stderr, no stack trace."""
    context = cdk_json_context()
    _set(context[CONTEXT_KEY], field, value)
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"cdk.json: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not list(tmp_path.iterdir())


def test_the_regions_load_knows_are_the_ones_aws_cdk_lib_knows() -> None:
    """`load` checks regions against botocore's endpoint data (no Node runtime: make bootstrap reads cdk.json with
    it); what it guards against is a region aws-cdk-lib cannot place in a partition (a jsii traceback)."""
    from aws_cdk import region_info

    from app import known_regions

    assert known_regions() == {info.name for info in region_info.RegionInfo.regions}
