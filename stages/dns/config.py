"""The `dns` section of `cdk.json`: the optional one-time stack that creates the public hosted zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import ACCOUNT, REGION
from ..config.reader import keys_of, mapping, no_unknown_keys, read_section, text
from ..config.sections import DOMAIN


@dataclass(frozen=True)
class DnsConfig:
    """Where the zone is created; its name servers must then be entered at the registrar once (README "DNS")."""

    zone_name: str = field(metadata=text(DOMAIN, "a domain name such as example.com"))
    account: str = field(metadata=text(ACCOUNT, "a 12-digit string (quoted)"))
    region: str = field(metadata=text(REGION, "an AWS region such as eu-west-1"))


def load_dns(raw: Any) -> DnsConfig:
    values = mapping(raw, "dns")
    no_unknown_keys(values, keys_of(DnsConfig), "dns.")
    return read_section(DnsConfig, values, lambda key: f"dns.{key}")
