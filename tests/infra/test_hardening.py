"""The edge and data path as second walls: WAF, HSTS and banners, endpoint policies, the files bucket's upload rules,
the publisher policy, and the edge's own alarms."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
from aws_cdk.assertions import Template

from canary.hook import TOKEN_HEADER

from .conftest import Synth, only
from .test_monitoring import _alarms, _metric_math, _single_metric

LISTENER = "AWS::ElasticLoadBalancingV2::Listener"


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["Statement"]


# ---- WAF ------------------------------------------------------------------------------------------------------------


def test_prod_has_the_web_acl_with_managed_rules_and_a_rate_limit(prod_stateless: Template) -> None:
    acl = only(prod_stateless.find_resources("AWS::WAFv2::WebACL"))["Properties"]
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert [rule["Name"] for rule in sorted(acl["Rules"], key=lambda r: r["Priority"])] == [
        "IpReputation",
        "RatePerClient",
        "Common",
        "KnownBadInputs",
    ]
    groups = {
        name: rule["Statement"]["ManagedRuleGroupStatement"]
        for name, rule in rules.items()
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert {name: group["Name"] for name, group in groups.items()} == {
        "IpReputation": "AWSManagedRulesAmazonIpReputationList",
        "Common": "AWSManagedRulesCommonRuleSet",
        "KnownBadInputs": "AWSManagedRulesKnownBadInputsRuleSet",
    }
    # The one override: long percent-encoded keys are legitimate; counted, never blocked.
    assert groups["Common"]["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_URIPATH", "ActionToUse": {"Count": {}}}
    ]
    assert "RuleActionOverrides" not in groups["KnownBadInputs"]
    rate = rules["RatePerClient"]
    assert rate["Statement"]["RateBasedStatement"] == {
        "Limit": 2000,
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
    }
    assert rate["Action"]["Block"]["CustomResponse"] == {
        "ResponseCode": 429,
        "ResponseHeaders": [{"Name": "Retry-After", "Value": "300"}],
    }
    assert all(rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] for rule in rules.values())


def test_web_acl_protects_the_alb_and_logs_without_the_release_token(prod_stateless: Template) -> None:
    (acl_id,) = prod_stateless.find_resources("AWS::WAFv2::WebACL")
    (alb_id,) = prod_stateless.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    association = only(prod_stateless.find_resources("AWS::WAFv2::WebACLAssociation"))["Properties"]
    assert association == {"ResourceArn": {"Ref": alb_id}, "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]}}
    logging = only(prod_stateless.find_resources("AWS::WAFv2::LoggingConfiguration"))["Properties"]
    assert logging["LogDestinationConfigs"] == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:aws-waf-logs-download-service-prod"
    ]
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": TOKEN_HEADER.lower()}}]
    groups = prod_stateless.find_resources(
        "AWS::Logs::LogGroup", {"Properties": {"LogGroupName": "aws-waf-logs-download-service-prod"}}
    )
    assert only(groups)["Properties"]["RetentionInDays"] == 365


def test_dev_has_no_waf_by_default(dev_stateless: Template) -> None:
    assert dev_stateless.find_resources("AWS::WAFv2::WebACL") == {}
    assert "download-service-dev-Waf-Blocked-Warning" not in _alarms(dev_stateless)


def test_waf_block_surge_alarm(prod_stateless: Template) -> None:
    alarm = _alarms(prod_stateless)["download-service-prod-Waf-Blocked-Warning"]
    assert _single_metric(alarm) == ("AWS/WAFV2", "BlockedRequests", "Sum", 300)
    (query,) = alarm["Metrics"]
    assert {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]} == {
        "WebACL": "download-service-prod",
        "Region": "eu-west-1",
        "Rule": "ALL",
    }
    assert alarm["Threshold"] == 1000


# ---- HSTS and banners -----------------------------------------------------------------------------------------------


def _listener_attributes(template: Template, port: int) -> dict[str, str]:
    listener = only(template.find_resources(LISTENER, {"Properties": {"Port": port}}))["Properties"]
    return {a["Key"]: a["Value"] for a in listener.get("ListenerAttributes", [])}


@pytest.mark.parametrize("port", [443, 8443])
def test_https_listeners_send_a_year_of_hsts_and_no_server_banner(prod_stateless: Template, port: int) -> None:
    assert _listener_attributes(prod_stateless, port) == {
        "routing.http.response.server.enabled": "false",
        "routing.http.response.strict_transport_security.header_value": "max-age=31536000; includeSubDomains",
    }


@pytest.mark.parametrize(("stage", "port"), [("prod", 80), ("dev", 80), ("dev", 8080)])
def test_plain_http_listeners_drop_the_banner_and_send_no_hsts(synth: Synth, stage: str, port: int) -> None:
    assert _listener_attributes(synth.template(stage, "stateless"), port) == {
        "routing.http.response.server.enabled": "false"
    }


# ---- endpoints ------------------------------------------------------------------------------------------------------


def _endpoint_policies(template: Template) -> dict[str, list[dict[str, Any]]]:
    return {
        logical_id: _statements(endpoint["Properties"]["PolicyDocument"])
        for logical_id, endpoint in template.find_resources(
            "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}
        ).items()
    }


def test_interface_endpoints_admit_only_what_the_tasks_do(prod_stateless: Template) -> None:
    policies = _endpoint_policies(prod_stateless)
    assert len(policies) == 3  # ecr.api, ecr.dkr, logs: none is left with the default full-access policy
    repository = "arn:aws:ecr:eu-west-1:123456789012:repository/cdk-hnb659fds-container-assets-123456789012-eu-west-1"
    account = {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}
    for logical_id, statements in policies.items():
        assert all(s["Effect"] == "Allow" and s["Condition"] == account for s in statements), logical_id
        actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert not [a for a in actions if a.endswith("*")], logical_id  # no service-wide wildcard
        if logical_id.startswith("NetworkVpcLogs"):
            (statement,) = statements
            assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
            assert statement["Resource"]["Fn::GetAtt"][1] == "Arn"  # the service's log group, not *
        else:
            by_resource = {str(s["Resource"]): sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
                           for s in statements}  # fmt: skip
            assert by_resource == {
                repository: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "*": ["ecr:GetAuthorizationToken"],
            }


# ---- the files bucket -----------------------------------------------------------------------------------------------


def _denied(statements: list[dict[str, Any]], headers: dict[str, str]) -> bool:
    """Does a Deny statement of the bucket policy match an s3:PutObject with these request headers?"""
    for statement in statements:
        if statement["Effect"] != "Deny" or statement["Action"] != "s3:PutObject":
            continue
        ((operator, condition),) = statement["Condition"].items()
        ((key, expected),) = condition.items()
        value = headers.get(key.removeprefix("s3:"))
        if operator == "StringNotEqualsIfExists" and value is not None and value != expected:
            return True
        if operator == "Null" and expected == "false" and value is not None:
            return True
    return False


@pytest.mark.parametrize(
    ("headers", "denied"),
    [
        ({}, False),  # the bucket's default encryption is SSE-S3
        ({"x-amz-server-side-encryption": "AES256"}, False),
        ({"x-amz-server-side-encryption": "aws:kms"}, True),  # the task has no kms:Decrypt: a 502 later
        ({"x-amz-server-side-encryption": "aws:kms:dsse"}, True),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256"}, True),  # SSE-C: needs the uploader's key
    ],
)
def test_files_bucket_accepts_only_sse_s3_uploads(prod_stateful: Template, headers, denied) -> None:
    policies = prod_stateful.find_resources("AWS::S3::BucketPolicy")
    (files,) = [p for p in policies.values() if "FilesBucket" in str(p["Properties"]["Bucket"])]
    assert _denied(_statements(files["Properties"]["PolicyDocument"]), headers) is denied


def test_publisher_policy_writes_and_lists_only_the_prefix(prod_stateful: Template) -> None:
    policy = only(prod_stateful.find_resources("AWS::IAM::ManagedPolicy"))["Properties"]
    assert policy["ManagedPolicyName"] == "download-service-prod-publisher"
    statements = {s["Sid"]: s for s in _statements(policy["PolicyDocument"])}
    assert set(statements) == {"WriteUnderThePrefix", "ListThePrefix"}
    write = statements["WriteUnderThePrefix"]
    assert sorted(write["Action"]) == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert write["Condition"] == {"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}}
    assert statements["ListThePrefix"]["Action"] == "s3:ListBucket"
    actions = {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    for refused in ("s3:DeleteObject", "s3:GetObject", "s3:PutBucketPolicy", "s3:PutObjectAcl", "s3:*"):
        assert not any(fnmatch.fnmatchcase(refused, a) for a in actions), refused
    assert "PublisherPolicyArn" in prod_stateful.to_json()["Outputs"]


# ---- monitoring -----------------------------------------------------------------------------------------------------


def test_s3_errors_count_failures_and_missing_keys_have_their_own_counter(prod_stateless: Template) -> None:
    patterns = {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"]["FilterPattern"]
        for f in prod_stateless.find_resources("AWS::Logs::MetricFilter").values()
    }
    assert patterns["S3Errors"] == '{ ($.event = "s3_error") && ($.status >= 500) }'
    assert patterns["NotFound"] == '{ ($.event = "s3_error") && ($.status = 404) }'


def test_the_load_balancer_alarms_on_its_own_5xx(prod_stateless: Template) -> None:
    alarm = _alarms(prod_stateless)["download-service-prod-Alb-Elb-5xx-Rate-Critical"]
    inputs = {m["Id"]: m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert sorted(inputs.values()) == ["HTTPCode_ELB_5XX_Count", "RequestCount"]  # no target 5xx
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    ids = {name: metric_id for metric_id, name in inputs.items()}
    assert _metric_math(expression, {ids["RequestCount"]: 200, ids["HTTPCode_ELB_5XX_Count"]: 10}) == 5.0
    assert _metric_math(expression, {ids["RequestCount"]: 200, ids["HTTPCode_ELB_5XX_Count"]: None}) == 0.0
