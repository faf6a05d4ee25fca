"""The pre-deploy delegation check (stages.dns.check), with Route 53 and public DNS faked."""

from __future__ import annotations

import pytest

from stages.config import DomainConfig, HostedZone
from stages.dns.check import NotDelegatedError, check, route53_name_servers

ROUTE53 = {"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"}


def _stage(zone: HostedZone | None) -> tuple[str, DomainConfig]:
    return "prod", DomainConfig(domain_name=f"download.{zone.name}" if zone else None, hosted_zone=zone)


ZONE = HostedZone(id="Z0123456789EXAMPLE0ZZ", name="example.com")


def test_delegated_zone_passes() -> None:
    message = check(*_stage(ZONE), expected=lambda _: ROUTE53, public=lambda _: set(ROUTE53))
    assert message == "example.com: delegated to Z0123456789EXAMPLE0ZZ (4 name servers)"


def test_undelegated_zone_names_the_servers_to_enter() -> None:
    with pytest.raises(NotDelegatedError, match=r"no NS records; at the registrar set the name servers to ns-1"):
        check(*_stage(ZONE), expected=lambda _: ROUTE53, public=lambda _: set())


def test_zone_delegated_elsewhere_fails() -> None:
    with pytest.raises(
        NotDelegatedError, match=r"delegates to ns1.registrar.example, but hosted zone Z0123456789EXAMPLE0ZZ is"
    ):
        check(*_stage(ZONE), expected=lambda _: ROUTE53, public=lambda _: {"ns1.registrar.example"})


def test_stage_without_domain_is_skipped() -> None:
    assert "nothing to check" in check(*_stage(None), expected=pytest.fail, public=pytest.fail)


def test_route53_answer_is_normalised() -> None:
    class FakeRoute53:
        def get_hosted_zone(self, Id: str) -> dict:  # noqa: N803 - boto3's parameter name
            assert Id == ZONE.id
            return {"DelegationSet": {"NameServers": ["NS-1.awsdns-01.org.", "ns-2.awsdns-02.co.uk"]}}

    assert route53_name_servers(ZONE.id, FakeRoute53()) == {"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk"}
