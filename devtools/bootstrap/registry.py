"""The asset registry of a stage region: image scanning merged into the registry's configuration, and the asset
repository's policy extended to admit the pipeline's image gate from another account.

`PutRegistryScanningConfiguration` takes the registry's whole configuration, scan type and every rule (at most two:
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutRegistryScanningConfiguration.html): writing a basic
rule over an account on Amazon Inspector's enhanced scanning would turn that off. So the existing configuration is
read and kept, scan type included; our repository is added to a rule only when no rule scans it yet.

Reading another account's repository needs both the caller's IAM policy and the repository's policy to allow it
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html, "Allow another account").
The bootstrap stack owns that repository's policy (its Lambda and EMR statements): our statement is merged in by
its Sid, and `make bootstrap` puts it back if a later `cdk bootstrap` rewrites the policy.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from typing import Any

from botocore.exceptions import ClientError

from devtools.image_gate import ACTIONS

from .aws import BootstrapError
from .plan import QUALIFIER

#: The rule filter `make bootstrap` adds: every bootstrap asset repository of the registry.
ASSET_FILTER = {"filter": f"cdk-{QUALIFIER}-container-assets-*", "filterType": "WILDCARD"}
#: Frequencies that scan a pushed image (MANUAL does not).
SCANNING = ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")
GATE_SID = "DownloadServiceImageGate"


def covers(rules: list[dict[str, Any]], repository: str) -> bool:
    return any(
        rule.get("scanFrequency") in SCANNING
        and any(fnmatch.fnmatchcase(repository, f["filter"]) for f in rule.get("repositoryFilters", []))
        for rule in rules
    )


def merge_scanning(ecr: Any, repository: str) -> bool:
    """Make the registry scan `repository` on push, keeping its scan type and rules. True if it changed."""
    configuration = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    scan_type = configuration.get("scanType", "BASIC")
    rules = copy.deepcopy(configuration.get("rules", []))
    if covers(rules, repository):
        return False
    on_push = next((rule for rule in rules if rule.get("scanFrequency") == "SCAN_ON_PUSH"), None)
    if on_push is not None:
        on_push.setdefault("repositoryFilters", []).append(dict(ASSET_FILTER))
    elif len(rules) < 2:
        rules.append({"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [dict(ASSET_FILTER)]})
    else:
        raise BootstrapError(
            f"the registry's two scanning rules ({', '.join(r['scanFrequency'] for r in rules)}) do not scan "
            f"{repository} and ECR allows no third: add the filter {ASSET_FILTER['filter']} to one of them"
        )
    ecr.put_registry_scanning_configuration(scanType=scan_type, rules=rules)
    return True


def gate_statement(pipeline_account: str, partition: str) -> dict[str, Any]:
    """The pipeline's roles (of its account) may read the images and scan findings, nothing else."""
    return {
        "Sid": GATE_SID,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{pipeline_account}:root"},
        "Action": list(ACTIONS),
        "Condition": {
            "ArnLike": {"aws:PrincipalArn": f"arn:{partition}:iam::{pipeline_account}:role/DownloadServicePipeline-*"}
        },
    }


def merge_repository_policy(ecr: Any, repository: str, statement: dict[str, Any]) -> bool:
    """Put `statement` into the repository's policy (replacing one with its Sid), keeping the rest. True if changed."""
    try:
        policy = json.loads(ecr.get_repository_policy(repositoryName=repository)["policyText"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "RepositoryPolicyNotFoundException":
            raise
        policy = {"Version": "2012-10-17", "Statement": []}
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    if statement in statements:
        return False
    policy["Statement"] = [s for s in statements if s.get("Sid") != statement["Sid"]] + [statement]
    ecr.set_repository_policy(repositoryName=repository, policyText=json.dumps(policy))
    return True
