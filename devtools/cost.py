"""`make cost`: what each stage costs a month at rest, and per GiB and per million requests served, priced from the
synthesized templates with the dated list prices of the stage's own region in devtools/prices.toml (each price
with its source and date there).

    python -m devtools.cost                    # synthesize cdk.json's app offline into .local/cost, print the table
    python -m devtools.cost --markdown         # the table the README carries (a test keeps the two equal)

Every resource type in a template is priced, billed by usage only, or free, and says which: an unknown type stops the
report (a new billable resource cannot slip in unpriced; tests/infra/test_cost.py checks every type of the app).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.prices import PRICES, NoPricesError, borrowed, load_prices

ROOT = Path(__file__).resolve().parent.parent
#: Kept after the run (the CDK's validation report names files in it); `make clean` removes it.
OUTDIR = ROOT / ".local" / "cost" / "cdk.out"
GB_PER_GIB = 1024**3 / 1e9
#: Container Insights on a Fargate service: 8 performance metrics (Cpu/Memory Utilized and Reserved, Network Rx/Tx,
#: Storage Read/Write Bytes) by cluster, service and task family, 5 task counts by service, 2 by cluster. Names:
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/appinsights-metrics-ecs.html; the dimension sets
#: are a model to confirm on a bill (docs/operations.md).
CONTAINER_INSIGHTS_METRICS = 3 * 8 + 5 + 2
#: The service's embedded metrics (contract.SlotMetric: in use, total, utilization), one series each.
SERVICE_METRICS = 3
#: One access line per request (gunicorn's JSON record, measured 384 bytes with a short user agent; a browser's
#: adds about 120) plus the 26 bytes of metadata CloudWatch Logs bills per event.
ACCESS_LINE_BYTES = 512 + 26
#: aws-cdk-lib's Canary `memory`, default Size.mebibytes(1024), when the template sets none.
CANARY_MEMORY_MB = 1024
#: S3 PUTs a probe run makes in its artifacts bucket: a report and a log (it opens no browser: no screenshots).
CANARY_PUTS_PER_RUN = 2

Template = Mapping[str, Any]


@dataclass(frozen=True)
class Line:
    what: str
    monthly_usd: float


class UnpricedError(KeyError):
    """A resource type this module does not know how to price."""


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
    strategy = resource["Properties"].get("CapacityProviderStrategy", [])
    spot = any(entry.get("CapacityProvider") == "FARGATE_SPOT" for entry in strategy)
    kind = "fargate_spot" if spot else "fargate"
    per_task = (vcpu * p[f"{kind}_vcpu_hour"] + gib * p[f"{kind}_gb_hour"]) * p["hours"]
    what = f"{tasks} Fargate{' Spot' if spot else ''} tasks ({vcpu:g} vCPU, {gib:g} GiB), the minimum"
    lines = [Line(what, tasks * per_task)]
    environment = [v["Name"] for c in task.get("ContainerDefinitions", []) for v in c.get("Environment", [])]
    if "METRICS_NAMESPACE" in environment:
        lines.append(Line("service metrics (download slots)", SERVICE_METRICS * p["custom_metric_month"]))
    return lines


def _cluster(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    settings = resource.get("Properties", {}).get("ClusterSettings", [])
    if not any(s["Name"] == "containerInsights" and s["Value"] == "enabled" for s in settings):
        return []
    return [Line("Container Insights metrics", CONTAINER_INSIGHTS_METRICS * p["custom_metric_month"])]


def _web_acl(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    rules = len(resource["Properties"].get("Rules", []))
    return [Line(f"WAF web ACL + {rules} rules", p["waf_web_acl_month"] + rules * p["waf_rule_month"])]


def _canary(resource: Template, template: Template, p: Mapping[str, float]) -> list[Line]:
    expression = resource["Properties"]["Schedule"]["Expression"]
    match = re.fullmatch(r"rate\((\d+) minutes?\)", expression)
    if not match:
        raise UnpricedError(f"AWS::Synthetics::Canary schedule {expression!r}")
    runs = p["hours"] * 60 / int(match[1])
    config = resource["Properties"].get("RunConfig", {})
    # Each run is one Lambda invocation, billed here as if it lasted its whole timeout (an upper bound).
    gb_seconds = config.get("TimeoutInSeconds", 60) * config.get("MemoryInMB", CANARY_MEMORY_MB) / 1024
    per_run = p["lambda_million_requests"] / 1e6 + gb_seconds * p["lambda_gb_second"]
    return [
        Line(f"synthetic probe, {runs:,.0f} runs", runs * p["synthetics_run"]),
        Line("its Lambda and S3", runs * (per_run + CANARY_PUTS_PER_RUN * p["s3_put_thousand"] / 1000)),
    ]


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
    "AWS::ECS::Cluster": _cluster,
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
    "AWS::ECS::TaskDefinition", "AWS::ECS::ClusterCapacityProviderAssociations",
    "AWS::ApplicationAutoScaling::ScalableTarget",
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
    """(USD per GiB served, USD per million requests): data transfer out and the ALB's processed bytes; S3 GETs,
    the access line's log ingestion and, where the stage has a WAF, its inspection (its log lines are by usage)."""
    per_gib = GB_PER_GIB * (prices["data_transfer_out_gb"] + prices["alb_lcu_hour"])
    waf = any(r["Type"] == "AWS::WAFv2::WebACL" for t in templates for r in t.get("Resources", {}).values())
    logs = ACCESS_LINE_BYTES * 1e6 / 1e9 * prices["log_ingestion_gb"]
    per_million = 1000 * prices["s3_get_thousand"] + logs + (prices["waf_million_requests"] if waf else 0.0)
    return per_gib, per_million


# ---- the app --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """A stage's stacks (or the pipeline's), and the region they deploy to."""

    region: str
    templates: list[Template]


def stage_templates(outdir: Path) -> dict[str, Group]:
    """Synthesized templates by stack group: each stage ("Prod": Prod-Stateful + Prod-Stateless), the pipeline."""
    groups: dict[str, Group] = {}
    for manifest in sorted(outdir.glob("**/manifest.json")):
        for artifact in json.loads(manifest.read_text())["artifacts"].values():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            name = artifact["properties"].get("stackName") or artifact["displayName"]
            template = json.loads((manifest.parent / artifact["properties"]["templateFile"]).read_text())
            region = artifact["environment"].rsplit("/", 1)[1]  # aws://<account>/<region>
            groups.setdefault(name.split("-", 1)[0], Group(region, [])).templates.append(template)
    return groups


def synthesize(outdir: Path = OUTDIR) -> Path:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    from app import build, new_app
    from stages.config import cdk_json_context

    shutil.rmtree(outdir, ignore_errors=True)
    app = new_app(context=cdk_json_context(), outdir=str(outdir))
    build(app)
    app.synth()
    return outdir


def at_rest(group: Group, prices: Mapping[str, Any]) -> dict[str, float]:
    """{line: USD a month} of the group's templates, lines of the same name summed."""
    merged: dict[str, float] = {}
    for line in (line for template in group.templates for line in price(template, prices)):
        merged[line.what] = merged.get(line.what, 0.0) + line.monthly_usd
    return merged


def table(groups: Mapping[str, Group], path: Path = PRICES) -> str:
    """The Markdown table, each group priced in its own region; raises NoPricesError for a region without them."""
    lines = [
        "| stack group | region | at rest, USD/month | largest items | per GiB served | per million requests |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    notes: dict[str, dict[str, str]] = {}
    for name, group in groups.items():
        prices = load_prices(group.region, path)
        notes[group.region] = borrowed(group.region, path)
        merged = at_rest(group, prices)
        top = ", ".join(f"{what} {usd:.2f}" for what, usd in sorted(merged.items(), key=lambda i: -i[1])[:4])
        resources = [r for t in group.templates for r in t.get("Resources", {}).values()]
        per_gib, per_million = traffic(group.templates, prices)
        served = (
            f"{per_gib:.3f} | {per_million:.2f}"
            if any(r["Type"] == "AWS::ECS::Service" for r in resources)
            else "— | —"
        )
        lines.append(f"| {name} | {group.region} | {sum(merged.values()):.2f} | {top} | {served} |")
    lines.append(
        "\nList prices of each stage's region, each with its source and date in devtools/prices.toml; at rest = no "
        "downloads, minimum task count, before CloudWatch Logs and S3 storage by volume."
    )
    for region, names in sorted(notes.items()):
        if names:
            lines.append(f"Not yet read for {region}, the us-east-1 figure: {', '.join(sorted(names))}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prices", type=Path, default=PRICES)
    parser.add_argument("--assembly", type=Path, help="an existing cdk.out (default: synthesize into .local/cost)")
    parser.add_argument("--markdown", action="store_true", help="only the table (what the README carries)")
    args = parser.parse_args(argv)
    try:
        print(table(stage_templates(args.assembly or synthesize()), args.prices))
    except NoPricesError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
