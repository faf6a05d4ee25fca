"""checkov, the second IaC gate beside cdk-nag: 0 failed checks over every synthesized template (stages and
pipeline), and every skip in a template's metadata still answers a finding that checkov reports without it.

checkov runs from its own venv (`make checkov-tool`: it pins an older boto3 than the project), offline: no
Prisma Cloud mappings, no update check.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from stages.common import checkov

from .conftest import Synth

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOV = REPO_ROOT / ".local" / "tools" / "checkov" / "bin" / "checkov"
OFFLINE = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}

Finding = tuple[str, str, str]  # (stack name, logical id, check id)


@pytest.fixture(scope="session")
def checkov_bin() -> Path:
    """Installs checkov in its tool venv the first time (the Makefile target is a no-op afterwards)."""
    subprocess.run(["make", "-s", "checkov-tool"], cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    assert CHECKOV.is_file()
    return CHECKOV


def _write(templates: dict[str, dict[str, Any]], directory: Path, *, bare: bool = False) -> Path:
    """Each template as <stack name>.template.json in `directory`; `bare` drops every checkov skip."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, template in templates.items():
        if bare:
            template = json.loads(json.dumps(template))
            for resource in template["Resources"].values():
                resource.get("Metadata", {}).pop(checkov.METADATA_KEY, None)
        (directory / f"{name}.template.json").write_text(json.dumps(template))
    return directory


def _scan(checkov_bin: Path, directory: Path) -> dict[str, Any]:
    done = subprocess.run(
        [checkov_bin, "-d", directory, "--framework", "cloudformation", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE},
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: failed checks, anything else: checkov broke
    report = json.loads(done.stdout)
    assert report["check_type"] == "cloudformation", report
    return report


def _findings(report: dict[str, Any], kind: str) -> set[Finding]:
    return {
        (
            Path(check["file_path"]).name.removesuffix(".template.json"),
            check["resource"].split(".", 1)[1],
            check["check_id"],
        )
        for check in report["results"][kind]
    }


def _skips(templates: dict[str, dict[str, Any]]) -> dict[Finding, str]:
    return {
        (name, logical_id, entry["id"]): entry["comment"]
        for name, template in templates.items()
        for logical_id, resource in template["Resources"].items()
        for entry in resource.get("Metadata", {}).get(checkov.METADATA_KEY, {}).get("skip", [])
    }


@pytest.fixture(scope="session")
def report(synth: Synth, checkov_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _scan(checkov_bin, _write(synth.templates(), tmp_path_factory.mktemp("checkov")))


def test_checkov_passes_every_template(synth: Synth, report: dict[str, Any]) -> None:
    failed = sorted(_findings(report, "failed_checks"))
    assert failed == [], "\n".join(f"{stack} {resource}: {check}" for stack, resource, check in failed)
    assert report["summary"]["parsing_errors"] == 0
    checked = {
        Path(c["file_path"]).name for kind in ("passed_checks", "skipped_checks") for c in report["results"][kind]
    }
    assert checked == {f"{name}.template.json" for name in synth.templates()}
    assert len(checked) == synth.stack_count


def test_every_skip_answers_a_finding_and_says_why(
    synth: Synth, checkov_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    templates = synth.templates()
    skips = _skips(templates)
    assert skips
    bare = _scan(checkov_bin, _write(templates, tmp_path_factory.mktemp("checkov-bare"), bare=True))
    findings = _findings(bare, "failed_checks")
    stale = sorted(set(skips) - findings)
    assert stale == [], f"skips without a finding (fixed, renamed or misplaced): {stale}"
    assert findings == set(skips)  # and nothing else fails (test_checkov_passes_every_template, from the other side)
    for (stack, resource, check), reason in skips.items():
        assert len(reason) >= 60, f"{stack} {resource} {check}: say why, specifically"


def test_checkov_is_live_a_bare_bucket_fails(checkov_bin: Path, tmp_path: Path) -> None:
    template = {"Resources": {"Careless": {"Type": "AWS::S3::Bucket", "Properties": {}}}}
    report = _scan(checkov_bin, _write({"Throwaway": template}, tmp_path))
    assert {("Throwaway", "Careless", "CKV_AWS_18"), ("Throwaway", "Careless", "CKV_AWS_21")} <= _findings(
        report, "failed_checks"
    )


def _bucket(context: dict[str, Any] | None = None) -> s3.CfnBucket:
    app = cdk.App(context=context)
    return s3.CfnBucket(cdk.Stack(app, "Throwaway"), "Bucket")


def test_skip_records_metadata_checkov_reads_and_nothing_when_switched_off() -> None:
    bucket = _bucket()
    checkov.skip_all(bucket, {"CKV_AWS_18": "first reason", "CKV_AWS_21": "second reason"})
    assert bucket.get_metadata("checkov") == {
        "skip": [{"id": "CKV_AWS_18", "comment": "first reason"}, {"id": "CKV_AWS_21", "comment": "second reason"}]
    }
    with pytest.raises(ValueError, match="already skipped"):
        checkov.skip(bucket, "CKV_AWS_18", "again")
    silent = _bucket({checkov.SKIP_CONTEXT_KEY: False})
    checkov.skip(silent, "CKV_AWS_18", "a reason")
    assert silent.get_metadata("checkov") is None
