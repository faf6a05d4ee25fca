"""cfn-lint over every synthesized template: no errors, no warnings except W3005 (CDK's explicit DependsOn)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from .conftest import Synth

#: W3005 "dependency already enforced": CDK adds DependsOn next to Ref/GetAtt on purpose; harmless noise.
IGNORED = {"W3005"}


def _templates(synth: Synth) -> list[Path]:
    return sorted(synth.outdir.glob("**/*.template.json"))


def test_every_stack_is_linted(synth: Synth) -> None:
    assert len(_templates(synth)) == synth.stack_count


def test_cfn_lint_is_clean(synth: Synth) -> None:
    problems = []
    for template in _templates(synth):
        for match in lint_file(template, ManualArgs(regions=["eu-west-1"])):
            if match.rule.id not in IGNORED and not match.rule.id.startswith("I"):
                problems.append(f"{template.name}: {match.rule.id} {match.message} ({match.path_string})")
    if problems:
        pytest.fail("\n".join(problems))
