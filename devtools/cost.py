"""`make cost`: what each stage costs a month at rest, and per GiB and per million requests served, priced from the
synthesized templates with the dated list prices in devtools/prices.toml (region, date and sources in that file).

    python -m devtools.cost                    # synthesize cdk.json's app offline, print a table per stage
    python -m devtools.cost --markdown         # the table the README carries (a test keeps the two equal)

Every resource type in a template is priced, billed by usage only, or free, and says which: an unknown type stops the
report (a new billable resource cannot slip in unpriced; tests/infra/test_cost.py checks every type of the app).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRICES = Path(__file__).resolve().parent / "prices.toml"
GB_PER_GIB = 1024**3 / 1e9

Template = Mapping[str, Any]


@dataclass(frozen=True)
class Line:
    what: str
    monthly_usd: float


class UnpricedError(KeyError):
    """A resource type this module does not know how to price."""


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {"hours": data["hours_per_month"], "date": data["date"], "region": data["region"],
            **{name: entry["usd"] for name, entry in data["prices"].items()}}  # fmt: skip


# ---- per resource type ---------------------------------------------------------------------------------------------


def _alb(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    subnets = len(resource["Properties"].get("Subnets", [])) or 2
    return [
        Line("load balancer", p["alb_hour"] * p["hours"]),
        Line(f"its {subnets} public IPv4 addresses", subnets * p["public_ipv4_hour"] * p["hours"]),
    ]


def _endpoint(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    props = resource["Properties"]
    if props.get("VpcEndpointType") != "Interface":
        return []  # gateway endpoints (S3) are free
    azs = len(props.get("SubnetIds", []))
    return [Line(f"interface endpoints ({azs} AZs each)", azs * p["interface_endpoint_az_hour"] * p["hours"])]


def _fargate(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    resources = template["Resources"]
    task = resources[resource["Properties"]["TaskDefinition"]["Ref"]]["Properties"]
    vcpu, gib = int(task["Cpu"]) / 1024, int(task["Memory"]) / 1024
    targets = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    tasks = targets[0]["MinCapacity"] if targets else resource["Properties"].get("DesiredCount", 1)
    per_task = (vcpu * p["fargate_vcpu_hour"] + gib * p["fargate_gb_hour"]) * p["hours"]
    return [Line(f"{tasks} Fargate tasks ({vcpu:g} vCPU, {gib:g} GiB), the minimum", tasks * per_task)]


def _web_acl(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    rules = len(resource["Properties"].get("Rules", []))
    return [Line(f"WAF web ACL + {rules} rules", p["waf_web_acl_month"] + rules * p["waf_rule_month"])]


def _canary(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    expression = resource["Properties"]["Schedule"]["Expression"]
    match = re.fullmatch(r"rate\((\d+) minutes?\)", expression)
    if not match:
        raise UnpricedError(f"AWS::Synthetics::Canary schedule {expression!r}")
    runs = p["hours"] * 60 / int(match[1])
    return [Line(f"synthetic probe, {runs:,.0f} runs", runs * p["synthetics_run"])]


def _alarm(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    props = resource["Properties"]
    metrics = 1 if "MetricName" in props else sum("MetricStat" in m for m in props.get("Metrics", []))
    return [Line("alarms (per metric read)", metrics * p["alarm_metric_month"])]


def _metric_filter(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    # A dimensioned filter publishes one metric per value: per release here, one live at rest.
    return [Line("log metrics", len(resource["Properties"]["MetricTransformations"]) * p["custom_metric_month"])]


def _flat(what: str, price: str) -> Callable[[Template, Template, Mapping[str, float]], list[Line]]:
    return lambda resource, template, p: [Line(what, p[price])]


PRICED: dict[str, Callable[[Template, Template, Mapping[str, float]], list[Line]]] = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _alb,
    "AWS::EC2::VPCEndpoint": _endpoint,
    "AWS::ECS::Service": _fargate,
    "AWS::WAFv2::WebACL": _web_acl,
    "AWS::Synthetics::Canary": _canary,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Logs::MetricFilter": _metric_filter,
    "AWS::CloudWatch::CompositeAlarm": _flat("composite alarm", "composite_alarm_month"),
    "AWS::CloudWatch::Dashboard": _flat("dashboard", "dashboard_month"),
    "AWS::KMS::Key": _flat("KMS keys", "kms_key_month"),
    "AWS::Route53::HostedZone": _flat("hosted zone", "hosted_zone_month"),
}

#: Billed by what flows through them, nothing at rest (the traffic columns and the README say which matter).
BY_USAGE = {
    "AWS::S3::Bucket": "storage and requests",
    "AWS::Logs::LogGroup": "ingestion and storage",
    "AWS::EC2::FlowLog": "log ingestion",
    "AWS::Lambda::Function": "invocations (deploy-time and release hooks: a few a day)",
    "AWS::SNS::Topic": "notifications",
    "AWS::ECS::Cluster": "Container Insights metrics and logs",
    "AWS::CodePipeline::Pipeline": "action minutes (V2)",
    "AWS::CodeBuild::Project": "build minutes",
    "AWS::Budgets::Budget": "the first two budgets of an account are free",
    "AWS::WAFv2::LoggingConfiguration": "log ingestion",
    "Custom::AWS": "a Lambda invocation per deployment",
    "Custom::S3AutoDeleteObjects": "a Lambda invocation per stack deletion",
    "Custom::VpcRestrictDefaultSG": "a Lambda invocation per deployment",
    "AWS::CodeStarNotifications::NotificationRule": "notifications",
}

#: Configuration: no charge of its own.
FREE = {
    "AWS::CDK::Metadata", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::EC2::VPC",
    "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::Route",
    "AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress", "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule", "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ECS::TaskDefinition", "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy", "AWS::CertificateManager::Certificate", "AWS::Route53::RecordSet",
    "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::KMS::Alias",
    "AWS::Logs::QueryDefinition", "AWS::WAFv2::WebACLAssociation", "AWS::Lambda::Permission",
}  # fmt: skip


def price(template: Template, prices: Mapping[str, float]) -> list[Line]:
    """The template's monthly at-rest lines, summed by what they are (raises UnpricedError for an unknown type)."""
    totals: dict[str, float] = {}
    for resource in template.get("Resources", {}).values():
        kind = resource["Type"]
        if kind in PRICED:
            for line in PRICED[kind](resource, template, prices):
                totals[line.what] = totals.get(line.what, 0.0) + line.monthly_usd
        elif kind not in BY_USAGE and kind not in FREE:
            raise UnpricedError(kind)
    return [Line(what, usd) for what, usd in totals.items()]


def traffic(templates: list[Template], prices: Mapping[str, float]) -> tuple[float, float]:
    """(USD per GiB served, USD per million requests): data transfer out and the ALB's processed bytes; S3 GETs
    and, where the stage has a WAF, its inspection."""
    per_gib = GB_PER_GIB * (prices["data_transfer_out_gb"] + prices["alb_lcu_hour"])
    waf = any(r["Type"] == "AWS::WAFv2::WebACL" for t in templates for r in t.get("Resources", {}).values())
    per_million = 1000 * prices["s3_get_thousand"] + (prices["waf_million_requests"] if waf else 0.0)
    return per_gib, per_million


# ---- the app --------------------------------------------------------------------------------------------------------


def stage_templates(outdir: Path) -> dict[str, list[Template]]:
    """Synthesized templates by stack group: each stage ("Prod": Prod-Stateful + Prod-Stateless), the pipeline."""
    groups: dict[str, list[Template]] = {}
    for manifest in sorted(outdir.glob("**/manifest.json")):
        for artifact in json.loads(manifest.read_text())["artifacts"].values():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            name = artifact["properties"].get("stackName") or artifact["displayName"]
            template = json.loads((manifest.parent / artifact["properties"]["templateFile"]).read_text())
            groups.setdefault(name.split("-", 1)[0], []).append(template)
    return groups


def synthesize(outdir: Path) -> Path:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    from app import build, new_app
    from stages.config import cdk_json_context

    app = new_app(context=cdk_json_context(), outdir=str(outdir))
    build(app)
    app.synth()
    return outdir


def table(groups: Mapping[str, list[Template]], prices: Mapping[str, Any]) -> str:
    lines = [
        "| stack group | at rest, USD/month | largest items | per GiB served | per million requests |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for name, templates in groups.items():
        items = [line for template in templates for line in price(template, prices)]
        merged: dict[str, float] = {}
        for line in items:
            merged[line.what] = merged.get(line.what, 0.0) + line.monthly_usd
        top = ", ".join(f"{what} {usd:.2f}" for what, usd in sorted(merged.items(), key=lambda i: -i[1])[:4])
        serves = any(r["Type"] == "AWS::ECS::Service" for t in templates for r in t.get("Resources", {}).values())
        per_gib, per_million = traffic(templates, prices)
        served = f"{per_gib:.3f} | {per_million:.2f}" if serves else "— | —"
        lines.append(f"| {name} | {sum(merged.values()):.2f} | {top} | {served} |")
    lines.append(f"\nList prices of {prices['region']}, read {prices['date']} (devtools/prices.toml); at rest = no "
                 "downloads, minimum task count, before CloudWatch Logs and S3 storage by volume.")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prices", type=Path, default=PRICES)
    parser.add_argument("--assembly", type=Path, help="an existing cdk.out (default: synthesize cdk.json's app)")
    parser.add_argument("--markdown", action="store_true", help="only the table (what the README carries)")
    args = parser.parse_args(argv)
    prices = load_prices(args.prices)
    with tempfile.TemporaryDirectory(prefix="cost-") as tmp:
        outdir = args.assembly or synthesize(Path(tmp))
        print(table(stage_templates(outdir), prices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
