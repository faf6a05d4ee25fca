"""cdk-nag AwsSolutions: clean, live, and every acknowledgement specific, justified and actually needed."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from app import new_app
from stages.common import nag

from .conftest import Synth, cdk_json_context, synthesize

ACK = "aws:cdk:acknowledged-rules"


def _acknowledgements(outdir: Path) -> dict[tuple[str, str], str]:
    """(construct path, rule id) -> reason, for every AwsSolutions acknowledgement in the assembly."""
    found = {}
    for metadata in outdir.glob("**/*.metadata.json"):
        for path, entries in json.loads(metadata.read_text()).items():
            for entry in entries:
                if entry["type"] == ACK:
                    for rule, reason in entry["data"].items():
                        if "AwsSolutions-" in rule:
                            found[(path.lstrip("/"), rule.split("::", 1)[-1])] = reason
    return found


def test_synth_with_nag_is_clean(synth: Synth) -> None:
    """The session app ran AwsSolutionsChecks: app.synth() raises on any unacknowledged finding."""
    assert synth.outdir.joinpath("manifest.json").is_file()


def test_every_acknowledgement_answers_a_real_finding_on_its_own_construct(
    synth: Synth, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outdir = tmp_path_factory.mktemp("unacknowledged")
    context = {**cdk_json_context(), nag.ACKNOWLEDGE_CONTEXT_KEY: False}
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(outdir, context)
    report = json.loads((outdir / "validation-report.json").read_text())
    findings = {
        (construct["constructPath"], violation["ruleName"])
        for plugin in report["pluginReports"]
        if plugin["pluginName"] == "AwsSolutions"
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
    acknowledgements = _acknowledgements(synth.outdir)
    assert acknowledgements
    # Each acknowledgement sits on (or right above) the resource that has the finding...
    for path, rule in acknowledgements:
        assert any(
            rule == found_rule and found_path in (path, f"{path}/Resource") for found_path, found_rule in findings
        ), f"stale or misplaced acknowledgement {rule} at {path}"
    # ...and every finding has exactly one.
    for found_path, found_rule in findings:
        owners = [p for p, r in acknowledgements if r == found_rule and found_path in (p, f"{p}/Resource")]
        assert len(owners) == 1, (found_path, found_rule, owners)


def test_acknowledgements_are_specific_and_explained(synth: Synth) -> None:
    for (path, rule), reason in _acknowledgements(synth.outdir).items():
        if rule.startswith("AwsSolutions-IAM5"):
            assert "[" in rule, f"{path}: acknowledge each IAM5 finding on its own, not the whole rule"
        assert len(reason) >= 60, f"{path} {rule}: say why, specifically"
        assert "/Stateful/" not in path or "Storage" in path


def test_nag_is_live_a_bad_bucket_fails_synth(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    nag.add_checks(app)
    stack = cdk.Stack(app, "Throwaway", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    s3.Bucket(stack, "Careless")  # no access logs, no SSL enforcement
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules
