"""A small IAM policy evaluator: enough of AWS's identity-policy logic to ask "would this request be allowed?" of the
policy documents in pipeline/ without an AWS account.

Covered: Allow/Deny, Action/NotAction and Resource/NotResource with `*` and `?` wildcards (actions are matched
case-insensitively, resources case-sensitively), policy variables (`${aws:PrincipalAccount}`) in resources and
condition values, and the condition operators the documents use: String(Not)Equals, String(Not)Like,
Arn(Not)Equals, Arn(Not)Like, Bool, Null, each with the `IfExists` suffix and the `ForAnyValue:`/`ForAllValues:` set
prefixes. A request is allowed when some statement allows it and none denies it (explicit deny wins, no match is
an implicit deny); a role with a permissions boundary is allowed only what both its policies and its boundary allow.

Not covered (the documents use none of it): numeric and date operators, `Principal`, resource-based policies,
session policies, SCPs. Anything it does not understand raises instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Request:
    """One API call as IAM authorizes it: the action, one resource ARN, and the request context (condition keys)."""

    action: str
    resource: str = "*"
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        """The key's values (condition keys are case-insensitive), or None when the request does not carry it."""
        for name, value in self.context.items():
            if name.lower() == key.lower():
                return [value] if isinstance(value, str) else list(value)
        return None


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"{regex}\\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).match(value) is not None


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def substitute(text: str, request: Request) -> str:
    """Replace policy variables by the request's values; a variable the request lacks makes the text match nothing
    (AWS then treats the element as not matching), here a value no ARN can equal."""

    def one(match: re.Match[str]) -> str:
        values = request.value(match.group(1))
        return values[0] if values else "\x00unresolved\x00"

    return _VARIABLE.sub(one, text)


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike/ArnEquals: the six colon-separated parts are compared one by one (wildcards stay inside a part,
    except in the resource part, which may contain colons itself)."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(matches(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


_OPERATORS = {
    "StringEquals": (lambda pattern, value: pattern == value, False),
    "StringNotEquals": (lambda pattern, value: pattern == value, True),
    "StringLike": (matches, False),
    "StringNotLike": (matches, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda pattern, value: pattern.lower() == value.lower(), False),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def condition_holds(operator: str, key: str, expected: Any, request: Request) -> bool:
    """One key of one condition operator. Several expected values are alternatives (OR); a negated operator holds
    when the request's value matches none of them."""
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    actual = request.value(key)
    if name == "Null":
        (wanted,) = _as_list(expected)
        return (actual is None) == (str(wanted).lower() == "true")
    if name not in _OPERATORS or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise ValueError(f"condition operator {operator!r} is not supported")
    compare, negated = _OPERATORS[name]
    patterns = [substitute(str(p), request) for p in _as_list(expected)]
    if actual is None:
        # Missing key: IfExists and ForAllValues (vacuously) hold, negated operators hold, everything else fails.
        return if_exists or qualifier == "ForAllValues" or (negated and qualifier != "ForAnyValue")

    def value_matches(value: str) -> bool:
        return any(compare(p, value) for p in patterns)

    if qualifier == "ForAllValues":
        return all(value_matches(v) != negated for v in actual)
    if qualifier == "ForAnyValue":
        return any(value_matches(v) != negated for v in actual)
    if len(actual) != 1:
        raise ValueError(f"{key} has several values: {operator} needs ForAnyValue: or ForAllValues:")
    return value_matches(actual[0]) != negated


def _statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
    if unknown:
        raise ValueError(f"statement {statement.get('Sid')}: unsupported elements {sorted(unknown)}")
    if "Action" in statement:
        action_hit = any(matches(a, request.action, ignore_case=True) for a in _as_list(statement["Action"]))
    else:
        action_hit = not any(matches(a, request.action, ignore_case=True) for a in _as_list(statement["NotAction"]))
    if not action_hit:
        return False
    if "Resource" in statement:
        resource_hit = any(matches(substitute(r, request), request.resource) for r in _as_list(statement["Resource"]))
    else:
        resource_hit = not any(
            matches(substitute(r, request), request.resource) for r in _as_list(statement["NotResource"])
        )
    if not resource_hit:
        return False
    return all(
        condition_holds(operator, key, expected, request)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def statements(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for document in documents for s in _as_list(document["Statement"])]


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """The decision of a set of identity policies (all attached to one principal) for one request."""
    applying = [s for s in statements(documents) if _statement_applies(s, request)]
    if any(s["Effect"] == "Deny" for s in applying):
        return Decision.EXPLICIT_DENY
    if any(s["Effect"] == "Allow" for s in applying):
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


def allowed(
    documents: Iterable[Mapping[str, Any]], request: Request, *, boundary: Mapping[str, Any] | None = None
) -> bool:
    """Whether a principal with these policies (and, if given, this permissions boundary) may make the request."""
    if evaluate(documents, request) is not Decision.ALLOW:
        return False
    return boundary is None or evaluate([boundary], request) is Decision.ALLOW


def allowing_statements(documents: Iterable[Mapping[str, Any]], action: str) -> list[Mapping[str, Any]]:
    """The Allow statements whose Action names `action` (whatever their resources and conditions)."""
    return [
        s
        for s in statements(documents)
        if s["Effect"] == "Allow" and any(matches(a, action, ignore_case=True) for a in _as_list(s.get("Action", [])))
    ]
