"""`make cost` (devtools/cost.py): every resource the app synthesizes has a price (or is said to be usage-billed or
free), each stage is priced in its own region, the arithmetic follows the price table, budgets sit above the
at-rest cost, and the README's cost table is exactly what `make cost` prints."""

from __future__ import annotations

import re
import tomllib

import pytest

from devtools import cost, prices
from stages.config import CDK_JSON
from stages.monitoring.spend import NOTIFICATIONS

from .conftest import Synth

US = prices.load_prices("us-east-1")


def test_every_resource_type_of_the_app_is_priced_or_declared(synth: Synth) -> None:
    groups = cost.stage_templates(synth.outdir)
    assert {"Dev", "Prod", "Sandbox", "DownloadServicePipeline"} <= set(groups)
    for group in groups.values():
        for template in group.templates:
            cost.price(template, US)  # raises UnpricedError for a type nobody classified
    kinds = {r["Type"] for g in groups.values() for t in g.templates for r in t["Resources"].values()}
    declared = set(cost.PRICED) | set(cost.BY_USAGE) | cost.FREE
    assert kinds <= declared, sorted(kinds - declared)
    assert not set(cost.PRICED) & (set(cost.BY_USAGE) | cost.FREE)  # one classification each


def test_an_unknown_resource_type_stops_the_report() -> None:
    with pytest.raises(cost.UnpricedError, match="AWS::RDS::DBInstance"):
        cost.price({"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}}}}, US)


def test_every_region_prices_every_line_with_a_source_and_a_date() -> None:
    data = tomllib.loads(prices.PRICES.read_text())
    regions = {name for name in data if name not in ("units", "hours_per_month")}
    assert {"us-east-1", "eu-west-1"} <= regions
    for region in regions:
        assert set(data[region]) == set(data["units"]), region
        for name, entry in data[region].items():
            assert entry["usd"] > 0, (region, name)
            assert entry["source"], (region, name)
            assert entry["date"], (region, name)


def test_a_region_without_prices_is_one_line() -> None:
    with pytest.raises(prices.NoPricesError, match=r"^make cost: no prices for ap-east-2 in prices.toml \(it has "):
        prices.load_prices("ap-east-2")


def test_each_stage_is_priced_in_its_own_region(synth: Synth) -> None:
    groups = cost.stage_templates(synth.outdir)
    assert {group.region for group in groups.values()} == {synth.built.config.stages["dev"].region}
    table = cost.table(groups)
    assert "| Dev | eu-west-1 |" in table
    assert prices.load_prices("eu-west-1")["alb_hour"] != US["alb_hour"]


def resource(kind: str, **properties: object) -> dict:
    return {"Type": kind, "Properties": properties}


def test_arithmetic_follows_the_price_table() -> None:
    template = {
        "Resources": {
            "Lb": resource("AWS::ElasticLoadBalancingV2::LoadBalancer", Subnets=["a", "b"]),
            "Ep": resource("AWS::EC2::VPCEndpoint", VpcEndpointType="Interface", SubnetIds=["a", "b"]),
            "S3": resource("AWS::EC2::VPCEndpoint", VpcEndpointType="Gateway"),
            "Td": resource(
                "AWS::ECS::TaskDefinition",
                Cpu="1024",
                Memory="2048",
                ContainerDefinitions=[{"Environment": [{"Name": "METRICS_NAMESPACE", "Value": "x"}]}],
            ),
            "Svc": resource("AWS::ECS::Service", TaskDefinition={"Ref": "Td"}),
            "Cl": resource("AWS::ECS::Cluster", ClusterSettings=[{"Name": "containerInsights", "Value": "enabled"}]),
            "St": resource("AWS::ApplicationAutoScaling::ScalableTarget", MinCapacity=3),
            "Probe": resource(
                "AWS::Synthetics::Canary",
                Schedule={"Expression": "rate(10 minutes)"},
                RunConfig={"TimeoutInSeconds": 30, "MemoryInMB": 2048},
            ),
            "Alarm": resource("AWS::CloudWatch::Alarm", Metrics=[{"MetricStat": {}}, {"MetricStat": {}}, {"Id": "e"}]),
        }
    }
    lines = {line.what: line.monthly_usd for line in cost.price(template, US)}
    hours = US["hours"]
    assert lines["load balancer"] == pytest.approx(US["alb_hour"] * hours)
    assert lines["its 2 public IPv4 addresses"] == pytest.approx(2 * US["public_ipv4_hour"] * hours)
    assert lines["interface endpoints (2 AZs each)"] == pytest.approx(2 * US["interface_endpoint_az_hour"] * hours)
    fargate = 3 * (US["fargate_vcpu_hour"] + 2 * US["fargate_gb_hour"]) * hours
    assert lines["3 Fargate tasks (1 vCPU, 2 GiB), the minimum"] == pytest.approx(fargate)
    assert lines["service metrics (download slots)"] == pytest.approx(3 * US["custom_metric_month"])
    assert lines["Container Insights metrics"] == pytest.approx(31 * US["custom_metric_month"])
    runs = hours * 6
    assert lines["synthetic probe, 4,380 runs"] == pytest.approx(runs * US["synthetics_run"])
    lambda_and_s3 = runs * (US["lambda_million_requests"] / 1e6 + 30 * 2 * US["lambda_gb_second"])
    assert lines["its Lambda and S3"] == pytest.approx(lambda_and_s3 + runs * 2 * US["s3_put_thousand"] / 1000)
    assert lines["alarms (per metric read)"] == pytest.approx(2 * US["alarm_metric_month"])  # 2 metrics read
    assert len(lines) == 9  # the gateway endpoint is free


def test_spot_capacity_is_priced_at_spot_prices() -> None:
    eu = prices.load_prices("eu-west-1")
    template = {
        "Resources": {
            "Td": resource("AWS::ECS::TaskDefinition", Cpu="512", Memory="1024"),
            "Svc": resource(
                "AWS::ECS::Service",
                TaskDefinition={"Ref": "Td"},
                CapacityProviderStrategy=[{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
            ),
        }
    }
    (line,) = cost.price(template, eu)
    assert line.what == "1 Fargate Spot tasks (0.5 vCPU, 1 GiB), the minimum"
    assert line.monthly_usd == pytest.approx((0.5 * eu["fargate_spot_vcpu_hour"] + eu["fargate_spot_gb_hour"]) * 730)


def test_per_million_requests_counts_the_access_lines_log_ingestion() -> None:
    _, per_million = cost.traffic([{"Resources": {}}], US)
    logs = cost.ACCESS_LINE_BYTES / 1000 * US["log_ingestion_gb"]
    assert per_million == pytest.approx(1000 * US["s3_get_thousand"] + logs)


def test_budgets_sit_above_each_stages_cost_at_rest(synth: Synth) -> None:
    """The first notification (80 % of the limit) must not fire on the stage's own at-rest cost every month."""
    first = min(percent for _, percent in NOTIFICATIONS) / 100
    groups = cost.stage_templates(synth.outdir)
    for name, stage in synth.built.config.stages.items():
        group = groups[stage.construct_id]
        at_rest = sum(cost.at_rest(group, prices.load_prices(group.region)).values())
        assert stage.budget.monthly_usd is not None, name
        assert stage.budget.monthly_usd * first > at_rest, (name, stage.budget.monthly_usd, at_rest)


def test_the_readme_cost_table_is_what_make_cost_prints(synth: Synth) -> None:
    readme = (CDK_JSON.parent / "README.md").read_text()
    (block,) = re.findall(r"<!-- make cost -->\n(.*?)\n<!-- /make cost -->", readme, flags=re.S)
    assert block == cost.table(cost.stage_templates(synth.outdir))


def test_make_cost_keeps_the_assembly_whose_validation_report_it_names(monkeypatch, tmp_path, capsys) -> None:
    """The CDK's validation report names a file in the output folder: a kept one (.local/cost, `make clean`),
    not a temporary folder deleted before the user reads the path."""
    used = []

    def synthesize(outdir=cost.OUTDIR):
        used.append(outdir)
        (tmp_path / "manifest.json").write_text('{"artifacts": {}}')
        return tmp_path

    monkeypatch.setattr(cost, "synthesize", synthesize)
    assert cost.main([]) == 0
    assert used == [cost.OUTDIR]
    assert cost.OUTDIR.is_relative_to(cost.ROOT / ".local")
    assert "| stack group |" in capsys.readouterr().out
