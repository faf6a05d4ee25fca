"""The IAM policy evaluator the execution-policy and boundary tests rely on, checked against IAM's documented rules."""

from __future__ import annotations

from typing import Any

import pytest

from .policy_eval import Decision, Request, allowed, condition_holds, evaluate, matches


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


BUCKET_OBJECT = "arn:aws:s3:::download-service-dev-files/readme.txt"


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "expected"),
    [
        ("s3:Get*", "s3:GetObject", True, True),
        ("s3:get*", "s3:GetObject", True, True),  # actions are case-insensitive
        ("s3:Get*", "s3:PutObject", True, False),
        ("s3:GetObjec?", "s3:GetObject", True, True),
        ("s3:GetObjec?", "s3:GetObjects", True, False),
        ("arn:aws:s3:::download-service-*", "arn:aws:s3:::download-service-dev/x", False, True),  # * spans "/"
        ("arn:aws:s3:::Download-*", "arn:aws:s3:::download-x", False, False),  # resources are case-sensitive
        ("arn:aws:s3:::a.b", "arn:aws:s3:::aXb", False, False),  # no regex leaks through
    ],
)
def test_wildcards(pattern: str, value: str, ignore_case: bool, expected: bool) -> None:
    assert matches(pattern, value, ignore_case=ignore_case) is expected


def test_allow_deny_and_no_match() -> None:
    policy = _policy(_allow(resource="arn:aws:s3:::download-service-*"))
    assert evaluate([policy], Request("s3:GetObject", BUCKET_OBJECT)) is Decision.ALLOW
    assert evaluate([policy], Request("s3:GetObject", "arn:aws:s3:::other/x")) is Decision.IMPLICIT_DENY
    assert evaluate([policy], Request("s3:PutObject", BUCKET_OBJECT)) is Decision.IMPLICIT_DENY
    with_deny = _policy(_allow(), {"Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    assert evaluate([with_deny], Request("s3:GetObject", BUCKET_OBJECT)) is Decision.EXPLICIT_DENY


def test_a_deny_in_another_attached_policy_wins() -> None:
    assert not allowed(
        [_policy(_allow()), _policy({"Effect": "Deny", "Action": "*", "Resource": "*"})], Request("s3:GetObject")
    )


def test_not_action_and_not_resource() -> None:
    policy = _policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret*"})
    assert allowed([policy], Request("s3:GetObject", BUCKET_OBJECT))
    assert not allowed([policy], Request("iam:CreateUser", "arn:aws:iam::1:user/x"))
    assert not allowed([policy], Request("s3:GetObject", "arn:aws:s3:::secret-bucket/x"))


def test_boundary_caps_what_the_identity_policy_allows() -> None:
    admin = _policy(_allow(action="*"))
    boundary = _policy(_allow(resource="arn:aws:s3:::download-service-*"))
    assert allowed([admin], Request("iam:CreateUser"), boundary=None)
    assert not allowed([admin], Request("iam:CreateUser"), boundary=boundary)
    assert allowed([admin], Request("s3:GetObject", BUCKET_OBJECT), boundary=boundary)
    # ...and the boundary grants nothing by itself.
    assert not allowed([_policy()], Request("s3:GetObject", BUCKET_OBJECT), boundary=boundary)


def test_policy_variables_in_resources_and_condition_values() -> None:
    own_account_only = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "StringNotEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"},
            "Null": {"aws:ResourceAccount": "false"},
        },
    }
    policy = _policy(_allow(resource="arn:aws:s3:::assets-${aws:PrincipalAccount}-*/*"), own_account_only)
    own = {"aws:PrincipalAccount": "111111111111"}
    mine = "arn:aws:s3:::assets-111111111111-eu/x"
    assert allowed([policy], Request("s3:GetObject", mine, own))
    assert allowed([policy], Request("s3:GetObject", mine, {**own, "aws:ResourceAccount": "111111111111"}))
    assert not allowed([policy], Request("s3:GetObject", "arn:aws:s3:::assets-222222222222-eu/x", own))
    other = {**own, "aws:ResourceAccount": "222222222222"}
    assert evaluate([policy], Request("s3:GetObject", mine, other)) is Decision.EXPLICIT_DENY
    # no principal account in the request: the variable resolves to nothing and the resource matches nothing
    assert not allowed([policy], Request("s3:GetObject", "arn:aws:s3:::assets--eu/x"))


def test_if_exists_holds_without_the_key_so_a_deny_with_it_denies_keyless_requests() -> None:
    deny = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:ResourceAccount": "111111111111"}},
    }
    assert evaluate([_policy(_allow(action="*"), deny)], Request("ecr:GetAuthorizationToken")) is (
        Decision.EXPLICIT_DENY
    )


TAGGED = {"aws:ResourceTag/service": "download-service"}


@pytest.mark.parametrize(
    ("operator", "key", "expected", "context", "holds"),
    [
        ("StringEquals", "aws:ResourceTag/service", "download-service", TAGGED, True),
        ("StringEquals", "aws:resourcetag/SERVICE", "download-service", TAGGED, True),  # keys are case-insensitive
        ("StringEquals", "aws:ResourceTag/service", "Download-Service", TAGGED, False),  # values are not
        ("StringEquals", "aws:ResourceTag/service", ["a", "download-service"], TAGGED, True),  # values are ORed
        ("StringEquals", "aws:ResourceTag/service", "download-service", {}, False),  # missing key fails
        ("StringEqualsIfExists", "aws:ResourceTag/service", "x", {}, True),
        ("StringNotEquals", "aws:ResourceTag/service", "download-service", TAGGED, False),
        ("StringNotEquals", "aws:ResourceTag/service", "download-service", {}, True),  # negated: missing holds
        (
            "StringLike",
            "iam:PassedToService",
            "ecs*.amazonaws.com",
            {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
            True,
        ),
        ("StringNotLike", "iam:PassedToService", "ecs*", {"iam:PassedToService": "ec2.amazonaws.com"}, True),
        (
            "ArnLike",
            "iam:PolicyARN",
            "arn:*:iam::aws:policy/A*",
            {"iam:PolicyARN": "arn:aws-cn:iam::aws:policy/AB"},
            True,
        ),
        ("ArnLike", "iam:PolicyARN", "arn:*:iam::aws:policy/A*", {"iam:PolicyARN": "arn:aws:iam::aws:policy/B"}, False),
        ("ArnEquals", "iam:PolicyARN", "arn:*:iam::*:policy/x", {"iam:PolicyARN": "not-an-arn"}, False),
        ("ArnNotEquals", "iam:PermissionsBoundary", "arn:*:iam::*:policy/b", {}, True),
        (
            "ArnNotEquals",
            "iam:PermissionsBoundary",
            "arn:*:iam::*:policy/b",
            {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b"},
            False,
        ),
        ("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": "False"}, True),
        ("Null", "aws:ResourceTag/service", "true", {}, True),
        ("Null", "aws:ResourceTag/service", "true", TAGGED, False),
        ("Null", "aws:ResourceTag/service", "false", TAGGED, True),
        ("ForAllValues:StringEquals", "aws:TagKeys", ["service", "stage"], {"aws:TagKeys": ["stage"]}, True),
        ("ForAllValues:StringEquals", "aws:TagKeys", ["service"], {"aws:TagKeys": ["service", "owner"]}, False),
        ("ForAllValues:StringEquals", "aws:TagKeys", ["service"], {}, True),  # vacuously true
        ("ForAnyValue:StringEquals", "aws:TagKeys", ["service"], {"aws:TagKeys": ["owner", "service"]}, True),
        ("ForAnyValue:StringEquals", "aws:TagKeys", ["service"], {}, False),
        ("ForAnyValue:StringNotEquals", "aws:TagKeys", ["service"], {"aws:TagKeys": ["service", "x"]}, True),
    ],
)
def test_condition_operators(operator: str, key: str, expected: Any, context: dict[str, Any], holds: bool) -> None:
    assert condition_holds(operator, key, expected, Request("iam:PassRole", "*", context)) is holds


def test_keys_of_one_operator_and_several_operators_must_all_hold() -> None:
    statement = _allow(
        action="iam:AttachRolePolicy",
        Condition={
            "ArnEquals": {
                "iam:PermissionsBoundary": "arn:*:iam::*:policy/b",
                "iam:PolicyARN": "arn:*:iam::aws:policy/p",
            },
            "StringEquals": {"aws:PrincipalAccount": "1"},
        },
    )
    both = {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b", "iam:PolicyARN": "arn:aws:iam::aws:policy/p"}
    assert allowed([_policy(statement)], Request("iam:AttachRolePolicy", "*", {**both, "aws:PrincipalAccount": "1"}))
    assert not allowed(
        [_policy(statement)], Request("iam:AttachRolePolicy", "*", {**both, "aws:PrincipalAccount": "2"})
    )
    assert not allowed(
        [_policy(statement)], Request("iam:AttachRolePolicy", "*", {"iam:PolicyARN": both["iam:PolicyARN"]})
    )


@pytest.mark.parametrize(
    ("operator", "context", "message"),
    [
        ("NumericLessThan", {"k": "1"}, "not supported"),
        ("ForEveryValue:StringEquals", {"k": "1"}, "not supported"),
        ("StringEquals", {"k": ["1", "2"]}, "several values"),
    ],
)
def test_what_it_does_not_understand_raises(operator: str, context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        condition_holds(operator, "k", "1", Request("s3:GetObject", "*", context))


def test_unknown_statement_elements_raise() -> None:
    with pytest.raises(ValueError, match="Principal"):
        evaluate([_policy(_allow(Principal="*"))], Request("s3:GetObject"))
