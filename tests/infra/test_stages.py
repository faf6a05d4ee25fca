"""Stage-level invariants: same-account stages never collide, synth is deterministic, the Dns stack."""

from __future__ import annotations

import collections
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import new_app
from stages.common import nag
from stages.dns.config import DnsConfig

from .conftest import Synth, synthesize

#: Properties that give a resource an account- or region-wide physical name.
NAME_PROPERTIES = {
    "BucketName",
    "LogGroupName",
    "ClusterName",
    "ServiceName",
    "Family",
    "RoleName",
    "ManagedPolicyName",
    "TopicName",
    "FunctionName",
    "AlarmName",
    "DashboardName",
    "GroupName",
    "LoadBalancerName",
}
NAMED_BY_NAME = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Logs::QueryDefinition",
    "AWS::Logs::MetricFilter",
}


def _physical_names(template: dict[str, Any]) -> list[tuple[str, str]]:
    names = []
    own = template.get("Resources", {}).keys()
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        keys = NAME_PROPERTIES | ({"Name"} if resource["Type"] in NAMED_BY_NAME else set())
        for key in keys & props.keys():
            value = props[key]
            # A Ref/GetAtt points at a resource named elsewhere; a VPC endpoint's ServiceName is AWS's, not ours.
            reference = isinstance(value, dict) and value.keys() & {"Ref", "Fn::GetAtt", "Fn::GetStackOutput"}
            # A name built from one of this stack's own resources (e.g. /aws/lambda/<function>) is unique too.
            reference = reference or any(f'"Ref": "{logical_id}"' in json.dumps(value) for logical_id in own)
            if not reference and resource["Type"] != "AWS::EC2::VPCEndpoint":
                names.append((resource["Type"], json.dumps(value, sort_keys=True)))
        if resource["Type"] == "AWS::Route53::RecordSet":
            names.append(("record", f"{props['HostedZoneId']} {props['Name']} {props['Type']}"))
    for output in template.get("Outputs", {}).values():
        if "Export" in output:
            names.append(("export", json.dumps(output["Export"]["Name"], sort_keys=True)))
    return names


def test_stages_share_one_account_in_cdk_json(synth: Synth) -> None:
    """The collision test below is only meaningful if dev and prod really are in the same account and region."""
    stages = synth.built.config.stages
    assert stages["dev"].account == stages["prod"].account
    assert stages["dev"].region == stages["prod"].region


def test_no_physical_name_collides_across_stages(synth: Synth) -> None:
    templates = synth.templates()
    assert len(templates) == synth.stack_count  # stack names are unique too
    owners = collections.defaultdict(list)
    for stack_name, template in templates.items():
        for name in _physical_names(template):
            owners[name].append(stack_name)
    collisions = {name: stacks for name, stacks in owners.items() if len(stacks) > 1}
    assert not collisions
    # The explicitly named resources (buckets) carry the stage name.
    buckets = [name for kind, name in owners if kind == "AWS::S3::Bucket"]
    assert sorted(buckets) == sorted(f'"{s.files_bucket_name}"' for s in synth.built.config.stages.values())


def test_two_synths_produce_identical_templates(synth: Synth, tmp_path_factory: pytest.TempPathFactory) -> None:
    again = synthesize(tmp_path_factory.mktemp("again"))
    first, second = synth.templates(), again.templates()
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs between two synths"
    assets = sorted(p.name for p in synth.outdir.glob("asset.*"))
    assert assets == sorted(p.name for p in again.outdir.glob("asset.*"))


def test_dns_stack_creates_the_zone_and_outputs_its_name_servers() -> None:
    from stages.dns import DnsStack

    app = new_app()
    nag.add_checks(app)  # the one stack the shipped cdk.json does not build: cdk-nag clean on its own
    stack = DnsStack(
        app,
        "Dns",
        config=DnsConfig(zone_name="example.com", account="123456789012", region="eu-west-1"),
        env=cdk.Environment(account="123456789012", region="eu-west-1"),
    )
    app.synth()  # raises on any unacknowledged finding
    template = Template.from_stack(stack)
    zones = template.find_resources("AWS::Route53::HostedZone")
    assert len(zones) == 1
    zone = next(iter(zones.values()))
    assert zone["Properties"]["Name"] == "example.com."
    assert zone["DeletionPolicy"] == "Retain"
    outputs = template.find_outputs("*")
    assert {"HostedZoneId", "ZoneName", "NameServers"} <= outputs.keys()
    assert stack.termination_protection
