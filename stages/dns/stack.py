"""The one-time DNS stack: a public hosted zone whose name servers the registrar must be told about once."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, RemovalPolicy, Stack
from aws_cdk import aws_route53 as route53
from constructs import Construct

from .config import DnsConfig


class DnsStack(Stack):
    """Creates the zone and outputs its id and NS records. Deploy once, delegate at the registrar (README "DNS"),
    check with `dig NS <zone>`, then put the id and name into `hosted_zone` of the stages in cdk.json."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DnsConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, termination_protection=True, **kwargs)
        self.zone = route53.PublicHostedZone(self, "Zone", zone_name=config.zone_name)
        # A zone's NS set is assigned once; recreating it would force a new registrar delegation.
        self.zone.apply_removal_policy(RemovalPolicy.RETAIN)
        CfnOutput(self, "HostedZoneId", value=self.zone.hosted_zone_id, description="hosted_zone.id for cdk.json")
        CfnOutput(self, "ZoneName", value=config.zone_name, description="hosted_zone.name for cdk.json")
        CfnOutput(
            self,
            "NameServers",
            value=Fn.join(" ", self.zone.hosted_zone_name_servers or []),
            description="Enter these 4 name servers at the registrar, then check: dig NS <zone> +short",
        )
