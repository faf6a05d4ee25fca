"""`make cost` (devtools/cost.py): every resource the app synthesizes has a price (or is said to be usage-billed or
free), the arithmetic follows the price table, and the README's cost table is exactly what `make cost` prints."""

from __future__ import annotations

import re

import pytest

from devtools import cost
from stages.config import CDK_JSON

from .conftest import Synth

PRICES = cost.load_prices()


def test_every_resource_type_of_the_app_is_priced_or_declared(synth: Synth) -> None:
    groups = cost.stage_templates(synth.outdir)
    assert {"Dev", "Prod", "Sandbox", "DownloadServicePipeline"} <= set(groups)
    for templates in groups.values():
        for template in templates:
            cost.price(template, PRICES)  # raises UnpricedError for a type nobody classified
    kinds = {r["Type"] for ts in groups.values() for t in ts for r in t["Resources"].values()}
    declared = set(cost.PRICED) | set(cost.BY_USAGE) | cost.FREE
    assert kinds <= declared, sorted(kinds - declared)
    assert not set(cost.PRICED) & (set(cost.BY_USAGE) | cost.FREE)  # one classification each


def test_an_unknown_resource_type_stops_the_report() -> None:
    with pytest.raises(cost.UnpricedError, match="AWS::RDS::DBInstance"):
        cost.price({"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}}}}, PRICES)


def test_arithmetic_follows_the_price_table() -> None:
    def resource(kind: str, **properties: object) -> dict:
        return {"Type": kind, "Properties": properties}

    template = {
        "Resources": {
            "Lb": resource("AWS::ElasticLoadBalancingV2::LoadBalancer", Subnets=["a", "b"]),
            "Ep": resource("AWS::EC2::VPCEndpoint", VpcEndpointType="Interface", SubnetIds=["a", "b"]),
            "S3": resource("AWS::EC2::VPCEndpoint", VpcEndpointType="Gateway"),
            "Td": resource("AWS::ECS::TaskDefinition", Cpu="1024", Memory="2048"),
            "Svc": resource("AWS::ECS::Service", TaskDefinition={"Ref": "Td"}),
            "St": resource("AWS::ApplicationAutoScaling::ScalableTarget", MinCapacity=3),
            "Probe": resource("AWS::Synthetics::Canary", Schedule={"Expression": "rate(10 minutes)"}),
            "Alarm": resource("AWS::CloudWatch::Alarm", Metrics=[{"MetricStat": {}}, {"MetricStat": {}}, {"Id": "e"}]),
        }
    }
    lines = {line.what: line.monthly_usd for line in cost.price(template, PRICES)}
    hours = PRICES["hours"]
    assert lines["load balancer"] == pytest.approx(PRICES["alb_hour"] * hours)
    assert lines["its 2 public IPv4 addresses"] == pytest.approx(2 * PRICES["public_ipv4_hour"] * hours)
    assert lines["interface endpoints (2 AZs each)"] == pytest.approx(2 * PRICES["interface_endpoint_az_hour"] * hours)
    fargate = 3 * (PRICES["fargate_vcpu_hour"] + 2 * PRICES["fargate_gb_hour"]) * hours
    assert lines["3 Fargate tasks (1 vCPU, 2 GiB), the minimum"] == pytest.approx(fargate)
    assert lines["synthetic probe, 4,380 runs"] == pytest.approx(hours * 6 * PRICES["synthetics_run"])
    assert lines["alarms (per metric read)"] == pytest.approx(2 * PRICES["alarm_metric_month"])  # 2 metrics read
    assert len(lines) == 6  # the gateway endpoint is free


def test_the_readme_cost_table_is_what_make_cost_prints(synth: Synth) -> None:
    readme = (CDK_JSON.parent / "README.md").read_text()
    (block,) = re.findall(r"<!-- make cost -->\n(.*?)\n<!-- /make cost -->", readme, flags=re.S)
    assert block == cost.table(cost.stage_templates(synth.outdir), PRICES)
