"""Edge construct: ALB, listeners, TLS, target group, certificate and DNS; HTTP-only dev with a warning."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from download_service import contract
from stages.release_routing import TEST_PORT_HTTPS

from .conftest import Synth, only
from .test_network import group_id

NOT_FOUND = {
    "Type": "fixed-response",
    "FixedResponseConfig": {
        "StatusCode": "404",
        "ContentType": "application/json",
        "MessageBody": '{"error": "not found"}',
    },
}


def _attributes(template: Template) -> dict[str, object]:
    alb = only(template.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer"))["Properties"]
    return {item["Key"]: item["Value"] for item in alb["LoadBalancerAttributes"]}


def test_alb_is_public_in_the_public_subnets(prod_stateless: Template) -> None:
    alb = only(prod_stateless.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer"))["Properties"]
    assert alb["Scheme"] == "internet-facing"
    assert alb["Type"] == "application"
    assert all("Public" in subnet["Ref"] for subnet in alb["Subnets"])


def test_alb_attributes(prod_stateless: Template, dev_stateless: Template) -> None:
    prod = _attributes(prod_stateless)
    assert prod["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert prod["idle_timeout.timeout_seconds"] == str(contract.ALB_IDLE_TIMEOUT_S)
    assert contract.ALB_IDLE_TIMEOUT_S < contract.KEEPALIVE_S
    assert prod["access_logs.s3.enabled"] == "true"
    assert prod["access_logs.s3.prefix"] == "alb"
    assert prod["deletion_protection.enabled"] == "true"
    assert _attributes(dev_stateless)["deletion_protection.enabled"] == "false"


@pytest.mark.parametrize(("stage", "protocol"), [("prod", "HTTPS"), ("dev", "HTTP")])
@pytest.mark.parametrize("group_name", ["EdgeTargets", "EdgeAlternateTargets"])
def test_target_group_health_check_and_deregistration_delay(
    synth: Synth, stage: str, protocol: str, group_name: str
) -> None:
    template = synth.template(stage, "stateless")
    (group,) = [
        resource["Properties"]
        for logical_id, resource in template.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup").items()
        if logical_id.startswith(group_name)
    ]
    assert group["TargetType"] == "ip"
    assert group["Port"] == contract.PORT
    # TLS from the load balancer to the tasks where edge.tls_to_tasks (prod by default), health checks included.
    assert group["Protocol"] == protocol
    assert group["HealthCheckProtocol"] == protocol
    assert group["HealthCheckPath"] == contract.HEALTH_PATH
    assert group["Matcher"] == {"HttpCode": "200"}
    attributes = {item["Key"]: item["Value"] for item in group["TargetGroupAttributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == str(contract.DEREGISTRATION_DELAY_S)


def test_https_listener_uses_tls13_policy_and_the_certificate(prod_stateless: Template) -> None:
    certificate = only(prod_stateless.find_resources("AWS::CertificateManager::Certificate"))
    cert_id = next(iter(prod_stateless.find_resources("AWS::CertificateManager::Certificate")))
    assert certificate["Properties"]["DomainName"] == "download.example.com"
    assert certificate["Properties"]["ValidationMethod"] == "DNS"
    assert certificate["Properties"]["DomainValidationOptions"] == [
        {"DomainName": "download.example.com", "HostedZoneId": "Z0123456789EXAMPLE0ZZ"}
    ]
    https = only(prod_stateless.find_resources("AWS::ElasticLoadBalancingV2::Listener", {"Properties": {"Port": 443}}))
    props = https["Properties"]
    assert props["Protocol"] == "HTTPS"
    # Exactly this one: other TLS13-* policies (e.g. TLS13-1-0-2021-06) still accept TLS 1.0 and 1.1.
    assert props["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert props["Certificates"] == [{"CertificateArn": {"Ref": cert_id}}]
    # Every path goes through the production rule ECS re-weights (test_release.py); the default is never reached.
    assert props["DefaultActions"] == [NOT_FOUND]


def test_http_redirects_to_https_in_prod(prod_stateless: Template) -> None:
    http = only(prod_stateless.find_resources("AWS::ElasticLoadBalancingV2::Listener", {"Properties": {"Port": 80}}))
    assert http["Properties"]["DefaultActions"] == [
        {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    ]
    listener_id = next(
        iter(prod_stateless.find_resources("AWS::ElasticLoadBalancingV2::Listener", {"Properties": {"Port": 80}}))
    )
    rules = prod_stateless.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule")
    assert not [rule for rule in rules.values() if rule["Properties"]["ListenerArn"] == {"Ref": listener_id}]


def test_alias_record_points_at_the_alb(prod_stateless: Template) -> None:
    record = only(prod_stateless.find_resources("AWS::Route53::RecordSet"))["Properties"]
    assert record["Name"] == "download.example.com."
    assert record["Type"] == "A"
    assert record["HostedZoneId"] == "Z0123456789EXAMPLE0ZZ"
    (alb_id,) = prod_stateless.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert record["AliasTarget"] == {
        "DNSName": {"Fn::Join": ["", ["dualstack.", {"Fn::GetAtt": [alb_id, "DNSName"]}]]},
        "HostedZoneId": {"Fn::GetAtt": [alb_id, "CanonicalHostedZoneID"]},
    }


def test_alb_accepts_80_and_443_and_talks_only_to_the_tasks(prod_stateless: Template) -> None:
    alb_sg = group_id(prod_stateless, "Load balancer")
    task_sg = group_id(prod_stateless, "Service tasks")
    group = prod_stateless.to_json()["Resources"][alb_sg]["Properties"]
    # 8443: the test listener, open but guarded (only a per-deployment token from no real address; test_release.py).
    assert sorted((r["CidrIp"], r["FromPort"]) for r in group["SecurityGroupIngress"]) == [
        ("0.0.0.0/0", 80),
        ("0.0.0.0/0", 443),
        ("0.0.0.0/0", TEST_PORT_HTTPS),
    ]
    assert "SecurityGroupEgress" not in group
    egress = prod_stateless.find_resources(
        "AWS::EC2::SecurityGroupEgress", {"Properties": {"GroupId": {"Fn::GetAtt": [alb_sg, "GroupId"]}}}
    )
    assert [(r["Properties"]["DestinationSecurityGroupId"], r["Properties"]["FromPort"]) for r in egress.values()] == [
        ({"Fn::GetAtt": [task_sg, "GroupId"]}, contract.PORT)
    ]


def test_without_domain_dev_serves_http_and_warns(synth: Synth, dev_stateless: Template) -> None:
    dev_stateless.resource_count_is("AWS::CertificateManager::Certificate", 0)
    dev_stateless.resource_count_is("AWS::Route53::RecordSet", 0)
    http = only(dev_stateless.find_resources("AWS::ElasticLoadBalancingV2::Listener", {"Properties": {"Port": 80}}))
    assert http["Properties"]["Protocol"] == "HTTP"
    assert http["Properties"]["DefaultActions"] == [NOT_FOUND]  # the production rule answers (test_release.py)
    warnings = synth.warnings(synth.built.stages["dev"].stateless)
    assert [w for w in warnings if "has no domain_name" in w] == [
        "Stage 'dev' has no domain_name: the service is served over plain HTTP on the ALB's DNS name. Set domain_name "
        "and hosted_zone in cdk.json for HTTPS. [ack: download-service:http-only]"
    ]
    assert not [w for w in synth.warnings(synth.built.stages["prod"].stateless) if "has no domain_name" in w]


def test_service_url_output(prod_stateless: Template, dev_stateless: Template) -> None:
    prod_stateless.has_output("ServiceUrl", {"Value": "https://download.example.com"})
    dev_url = dev_stateless.find_outputs("ServiceUrl")["ServiceUrl"]["Value"]
    assert dev_url["Fn::Join"][1][0] == "http://"
