"""Make targets that call AWS stop in one line, before any synth, without a real account or credentials."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import preflight
from stages.config import CONTEXT_KEY, cdk_json_context

REPO_ROOT = Path(__file__).resolve().parents[2]


def without_credentials() -> dict[str, str]:
    """This environment with no way for botocore to find credentials (and no instance metadata to ask)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="eu-west-1",
        PYTHONPATH=f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT}",  # as make sets it
    )
    return env


def test_deploy_sandbox_with_the_placeholder_account_stops_before_synth() -> None:
    done = subprocess.run(["make", "deploy-sandbox"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.splitlines()[0] == (
        "make deploy-sandbox: cdk.json: defaults.account: 123456789012 is the example account cdk.json ships with: "
        "set your AWS account id"
    )
    assert "Traceback" not in done.stderr
    assert "cdk" not in done.stdout, "nothing after the preflight ran (no check-dns, no synth)"


def root() -> dict:
    return copy.deepcopy(cdk_json_context()[CONTEXT_KEY])


def test_each_target_checks_the_accounts_it_deploys_to() -> None:
    raw = root()
    raw["stages"]["dev"]["account"] = "111111111111"
    assert preflight.account_fields(raw, "deploy-sandbox", "sandbox") == {"defaults.account": "123456789012"}
    assert preflight.account_fields(raw, "destroy-sandbox", "dev") == {"stages.dev.account": "111111111111"}
    assert preflight.account_fields(raw, "deploy-pipeline", None) == {
        "pipeline.connection_arn": "123456789012",
        "stages.dev.account": "111111111111",
        "defaults.account": "123456789012",
    }


def test_an_unknown_stage_is_named() -> None:
    with pytest.raises(preflight.PreflightError, match=r"^STAGE='qa' is not a stage in cdk.json \(sandbox, dev, prod"):
        preflight.account_fields(root(), "deploy-sandbox", "qa")


def test_no_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in without_credentials().items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    raw = root()
    raw["defaults"]["account"] = "111111111111"
    monkeypatch.setattr(preflight, "cdk_json_context", lambda: {CONTEXT_KEY: raw})
    assert preflight.main(["destroy-sandbox", "sandbox"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "make destroy-sandbox: no AWS credentials found (environment, ~/.aws, SSO or a role): sign in first "
        "(aws sso login --profile NAME, then export AWS_PROFILE=NAME)"
    ]


def test_an_unknown_profile_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in without_credentials().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_PROFILE", "nobody-has-this")
    with pytest.raises(preflight.PreflightError, match=r"^AWS credentials: The config profile \(nobody-has-this\)"):
        preflight.credentials_resolve()


def test_check_dns_without_credentials_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stages.dns.check", "prod"],
        cwd=REPO_ROOT,
        env=without_credentials(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "check-dns prod: Route 53: Unable to locate credentials (needs credentials of the stage's account)"
    ]
