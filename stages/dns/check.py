"""Pre-deploy check: is the stage's hosted zone delegated to Route 53?

CloudFormation creates the ACM certificate and then waits until ACM sees the DNS validation record. If the parent
domain does not delegate to the hosted zone's name servers, ACM never sees it and the deployment sits in
CREATE_IN_PROGRESS for hours. This compares the zone's Route 53 name servers with what public DNS answers, in a
second, before anything is deployed:

    python -m stages.dns.check prod        # or: make check-dns STAGE=prod

Needs AWS credentials (route53:GetHostedZone) and HTTPS to dns.google; exits 0 for a stage without a domain.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from ..config import CONTEXT_KEY, ConfigError, DomainConfig, cdk_json_context, load_stages

DOH_URL = "https://dns.google/resolve"


class NotDelegatedError(RuntimeError):
    """The zone's delegation is missing or differs; the message is one line saying what to fix."""


def route53_name_servers(zone_id: str, client: Any = None) -> set[str]:
    if client is None:
        import boto3

        client = boto3.client("route53")
    zone = client.get_hosted_zone(Id=zone_id)
    return {_norm(ns) for ns in zone["DelegationSet"]["NameServers"]}


def public_name_servers(zone_name: str) -> set[str]:
    """NS records of `zone_name` as public DNS sees them (DNS-over-HTTPS: no resolver library needed)."""
    query = urllib.parse.urlencode({"name": zone_name, "type": "NS"})
    with urllib.request.urlopen(f"{DOH_URL}?{query}", timeout=10) as response:  # noqa: S310  # nosec B310 - fixed https URL
        answer = json.load(response)
    return {_norm(record["data"]) for record in answer.get("Answer", []) if record.get("type") == 2}


def check(
    stage: str,
    domain: DomainConfig,
    *,
    expected: Callable[[str], set[str]] = route53_name_servers,
    public: Callable[[str], set[str]] = public_name_servers,
) -> str:
    """Raise NotDelegatedError unless public DNS delegates the stage's zone to exactly its Route 53 name servers."""
    if domain.hosted_zone is None:
        return f"{stage}: no domain configured, nothing to check"
    zone = domain.hosted_zone
    want = expected(zone.id)
    have = public(zone.name)
    if not have:
        servers = " ".join(sorted(want))
        raise NotDelegatedError(
            f"{zone.name}: public DNS has no NS records; at the registrar set the name servers to {servers}"
        )
    if have != want:
        raise NotDelegatedError(
            f"{zone.name}: public DNS delegates to {' '.join(sorted(have))}, but hosted zone {zone.id} is served by "
            f"{' '.join(sorted(want))}; update the registrar (or hosted_zone.id in cdk.json)"
        )
    return f"{zone.name}: delegated to {zone.id} ({len(want)} name servers)"


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def main(argv: list[str]) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    if len(argv) != 1:
        print("usage: python -m stages.dns.check <stage>", file=sys.stderr)
        return 2
    try:
        stages = load_stages(cdk_json_context()[CONTEXT_KEY])
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    if argv[0] not in stages:
        print(f"unknown stage {argv[0]!r} (cdk.json has: {', '.join(stages)})", file=sys.stderr)
        return 2
    try:
        print(check(argv[0], stages[argv[0]].domain))
    except NotDelegatedError as error:
        print(f"NOT DELEGATED: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:  # no credentials, access denied, no such zone: botocore says which
        print(f"check-dns {argv[0]}: Route 53: {error} (needs credentials of the stage's account)", file=sys.stderr)
        return 1
    except OSError as error:  # urllib's URLError and timeouts: public DNS could not be asked
        print(f"check-dns {argv[0]}: public DNS ({DOH_URL}) did not answer: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
