"""`make bootstrap` end to end against botocore Stubbers (every call and its exact parameters, checked against the
services' models; nothing reaches AWS) and a recorded `cdk bootstrap`: a first run, a second run that changes nothing,
an account already on enhanced scanning, a policy at an older version with five versions kept, and what stops a run
(missing credentials, another account's profile, a refused call, wrong arguments) as one line."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber

from devtools.bootstrap.__main__ import main
from devtools.bootstrap.plan import asset_repository
from devtools.bootstrap.registry import ASSET_FILTER
from tests.infra.iam_support import installed

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "eu-west-1"
CONNECTION = f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/00000000-0000-0000-0000-000000000000"
GUARDRAILS = installed(ACCOUNT)
ON_PUSH = {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [ASSET_FILTER]}


class Account:
    """One stubbed client per service of the one account, and the cdk command lines run."""

    def __init__(self) -> None:
        self.clients = {s: boto3.client(s, region_name=REGION) for s in ("sts", "iam", "ecr", "codeconnections")}
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}
        self.cdk: list[list[str]] = []

    def factory(self, account: str, region: str, service: str) -> Any:
        assert (account, region) == (ACCOUNT, REGION)
        return self.clients[service]

    def run(self, *argv: str) -> int:
        def cdk(args: list[str]) -> int:
            self.cdk.append(args)
            return 0

        for stub in self.stubs.values():
            stub.activate()
        try:
            return main(list(argv), clients=self.factory, cdk=cdk)
        finally:
            for stub in self.stubs.values():
                stub.assert_no_pending_responses()  # every expected call was made
                stub.deactivate()

    def identity(self, account: str = ACCOUNT) -> None:
        answer = {"Account": account, "Arn": f"arn:aws:sts::{account}:assumed-role/admin/me", "UserId": "AROA:me"}
        self.stubs["sts"].add_response("get_caller_identity", answer, {})

    def connection(self, status: str = "AVAILABLE") -> None:
        answer = {"Connection": {"ConnectionArn": CONNECTION, "ConnectionStatus": status}}
        self.stubs["codeconnections"].add_response("get_connection", answer, {"ConnectionArn": CONNECTION})


def _arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


def _text(document: dict) -> str:
    return json.dumps(document, separators=(",", ":"))


def _policy(name: str, default: str = "v1") -> dict:
    return {"Policy": {"PolicyName": name, "Arn": _arn(name), "DefaultVersionId": default}}


def _version(document: dict, version: str = "v1") -> dict:
    # The API answers URL-encoded JSON; boto3 decodes it (as it does for real responses)
    return {"PolicyVersion": {"Document": quote(json.dumps(document)), "VersionId": version, "IsDefaultVersion": True}}


def _scanning(scan_type: str, *rules: dict) -> dict:
    return {"registryId": ACCOUNT, "scanningConfiguration": {"scanType": scan_type, "rules": list(rules)}}


def test_a_first_run_creates_every_guardrail_bootstraps_with_them_and_turns_scanning_on(capsys) -> None:
    account = Account()
    account.identity()
    for guardrail in GUARDRAILS.all:
        account.stubs["iam"].add_client_error(
            "get_policy", "NoSuchEntity", http_status_code=404, expected_params={"PolicyArn": _arn(guardrail.name)}
        )
        created = {
            "PolicyName": guardrail.name,
            "PolicyDocument": _text(GUARDRAILS.document(guardrail)),
            "Description": f"download-service guardrail from pipeline/{guardrail.file}",
        }
        account.stubs["iam"].add_response("create_policy", _policy(guardrail.name), created)
    account.stubs["ecr"].add_response("get_registry_scanning_configuration", _scanning("BASIC"), {})
    account.stubs["ecr"].add_response(
        "put_registry_scanning_configuration", {}, {"scanType": "BASIC", "rules": [ON_PUSH]}
    )
    account.connection("PENDING")
    assert account.run() == 0
    (args,) = account.cdk
    policies = ",".join(_arn(g.name) for g in GUARDRAILS.execution)
    assert args == [
        "bootstrap", f"aws://{ACCOUNT}/{REGION}", "--cloudformation-execution-policies", policies,
        "--custom-permissions-boundary", "download-service-deploy-boundary", "--no-notices",
    ]  # fmt: skip
    out = capsys.readouterr().out
    assert out.count(": created") == 10
    assert "handshake" in out  # the connection is still PENDING
    assert "make deploy-pipeline" in out


def test_a_second_run_changes_nothing(capsys) -> None:
    account = Account()
    account.identity()
    for guardrail in GUARDRAILS.all:
        account.stubs["iam"].add_response("get_policy", _policy(guardrail.name), {"PolicyArn": _arn(guardrail.name)})
        account.stubs["iam"].add_response(
            "get_policy_version",
            _version(GUARDRAILS.document(guardrail)),
            {"PolicyArn": _arn(guardrail.name), "VersionId": "v1"},
        )
    account.stubs["ecr"].add_response("get_registry_scanning_configuration", _scanning("BASIC", ON_PUSH), {})
    account.connection()
    assert account.run() == 0  # no create, put or delete was expected: the stubs would have refused it
    out = capsys.readouterr().out
    assert out.count(": unchanged") == 10
    assert "already on" in out
    assert "handshake" not in out
    assert len(account.cdk) == 1  # cdk bootstrap is idempotent itself: same parameters, no stack change


def test_an_account_on_enhanced_scanning_keeps_it(capsys) -> None:
    """f): a rule of Amazon Inspector's enhanced scanning that already covers every repository: nothing to write
    (the README's old put-registry-scanning-configuration --scan-type BASIC would have dropped it)."""
    everything = {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}
    account = Account()
    account.identity()
    for guardrail in GUARDRAILS.all:
        account.stubs["iam"].add_response("get_policy", _policy(guardrail.name), {"PolicyArn": _arn(guardrail.name)})
        account.stubs["iam"].add_response(
            "get_policy_version",
            _version(GUARDRAILS.document(guardrail)),
            {"PolicyArn": _arn(guardrail.name), "VersionId": "v1"},
        )
    account.stubs["ecr"].add_response("get_registry_scanning_configuration", _scanning("ENHANCED", everything), {})
    account.connection()
    assert account.run() == 0
    assert f"scanning of {asset_repository(ACCOUNT, REGION)}: already on" in capsys.readouterr().out


def test_a_policy_at_an_older_version_moves_to_this_checkouts_deleting_the_oldest_of_five(capsys) -> None:
    account = Account()
    account.identity()
    stale = GUARDRAILS.all[0]
    for guardrail in GUARDRAILS.all:
        arn, document = _arn(guardrail.name), GUARDRAILS.document(guardrail)
        if guardrail != stale:
            account.stubs["iam"].add_response("get_policy", _policy(guardrail.name), {"PolicyArn": arn})
            account.stubs["iam"].add_response(
                "get_policy_version", _version(document), {"PolicyArn": arn, "VersionId": "v1"}
            )
            continue
        account.stubs["iam"].add_response("get_policy", _policy(guardrail.name, "v5"), {"PolicyArn": arn})
        older = {**document, "Statement": document["Statement"][:-1]}
        account.stubs["iam"].add_response(
            "get_policy_version", _version(older, "v5"), {"PolicyArn": arn, "VersionId": "v5"}
        )
        day = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        versions = [
            {"VersionId": f"v{n}", "IsDefaultVersion": n == 5, "CreateDate": day + dt.timedelta(days=n)}
            for n in (3, 1, 5, 2, 4)
        ]
        account.stubs["iam"].add_response("list_policy_versions", {"Versions": versions}, {"PolicyArn": arn})
        account.stubs["iam"].add_response("delete_policy_version", {}, {"PolicyArn": arn, "VersionId": "v1"})
        new = {"PolicyArn": arn, "PolicyDocument": _text(document), "SetAsDefault": True}
        account.stubs["iam"].add_response("create_policy_version", {"PolicyVersion": {"VersionId": "v6"}}, new)
    account.stubs["ecr"].add_response("get_registry_scanning_configuration", _scanning("BASIC", ON_PUSH), {})
    account.connection()
    assert account.run() == 0
    assert f"policy {stale.name}: updated" in capsys.readouterr().out


def test_a_profile_of_another_account_stops_in_one_line(capsys) -> None:
    account = Account()
    account.identity("999999999999")
    assert account.run("--profile", "sandbox") == 2
    assert account.cdk == []
    assert capsys.readouterr().err == (
        "make bootstrap: profile sandbox sign in to account 999999999999, not 123456789012: check PROFILES\n"
    )


def test_a_refused_call_stops_in_one_line(capsys) -> None:
    account = Account()
    account.identity()
    account.stubs["iam"].add_client_error("get_policy", "AccessDenied", "not authorized to perform iam:GetPolicy", 403)
    assert account.run() == 2
    assert capsys.readouterr().err == (
        f"make bootstrap: GetPolicy in account {ACCOUNT} (default credentials) failed: AccessDenied: "
        "not authorized to perform iam:GetPolicy\n"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--profile", "999999999999=x"], "PROFILES names account 999999999999, which cdk.json does not deploy to"),
        (["--context", "examples/three-accounts.json"], "cdk.json deploys to 3 accounts: name a profile for each"),
        (
            ["--context", "examples/three-accounts.json", "--profile", "tooling"],
            "cdk.json deploys to 3 accounts: give ACCOUNT=tooling",
        ),
        (["--context", "nowhere.json"], "--context nowhere.json: no such file"),
    ],
)
def test_wrong_arguments_are_one_line(argv: list[str], expected: str, capsys) -> None:
    assert main(argv, clients=Account().factory, cdk=lambda args: 0) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"make bootstrap: {expected}")
    assert err.count("\n") == 1


def _without_credentials(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    none = str(tmp_path / "none")
    return {
        **env,
        "AWS_CONFIG_FILE": none,
        "AWS_SHARED_CREDENTIALS_FILE": none,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # were credentials found after all: still no network
    }


def test_missing_credentials_are_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.bootstrap"], cwd=ROOT, env=_without_credentials(tmp_path),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"make bootstrap: no AWS credentials for account {ACCOUNT} (default credentials): "
        "set AWS_PROFILE or pass PROFILES=ACCOUNT=PROFILE\n"
    )


@pytest.mark.parametrize("context", [[], ["--context", "examples/three-accounts.json"]], ids=["one", "three"])
def test_the_dry_run_prints_every_call_without_credentials_or_network(context: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.bootstrap", "--dry-run", *context], cwd=ROOT,
        env=_without_credentials(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    accounts = ["123456789012"] if not context else ["111111111111", "222222222222", "333333333333"]
    for account in accounts:
        assert any(line.startswith(f"npx --no-install cdk bootstrap aws://{account}/eu-west-1 ") for line in lines)
        assert any(line.startswith(f"[{account}] policy download-service-deploy-boundary: ") for line in lines)
    assert sum(line.startswith("aws iam create-policy ") for line in lines) == (10 if not context else 4 + 7 + 7)
    assert any(line.startswith("aws ecr put-registry-scanning-configuration ") for line in lines)
    assert ("aws ecr set-repository-policy" in done.stdout) is bool(context)  # the gate reads dev across accounts
    assert "What is left by hand" in done.stdout


def test_the_readme_set_up_is_three_steps() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("**One-time set-up**", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert [c.split()[:2] for c in commands] == [
        ["aws", "codeconnections"],
        ["make", "bootstrap"],
        ["make", "deploy-pipeline"],
    ]
