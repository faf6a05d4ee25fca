"""The branch is the front door: code owners on every delivery-critical path, and a ruleset that makes merging to
the pipeline's branch need their review and the pull-request check this stack builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from app import load
from pipeline.pr_validation import STATUS_CONTEXT
from stages.config import CONTEXT_KEY

from .conftest import cdk_json_context, only

REPO_ROOT = Path(__file__).resolve().parents[2]
CODEOWNERS = REPO_ROOT / ".github" / "CODEOWNERS"
RULESET = REPO_ROOT / ".github" / "rulesets" / "protect-main.json"
PLACEHOLDER_TEAM = "@example-org/delivery-owners"

#: What decides what the pipeline deploys, or runs with its roles: one file under each path the issue names.
DELIVERY_CRITICAL = [
    "pipeline/pipeline_stack.py",
    "stages/stage.py",
    "buildspec.yml",
    "Makefile",
    "app.py",
    "cdk.json",
    "requirements/dev.txt",
    "package.json",
    "package-lock.json",
    "Dockerfile",
    ".ci/run",
    ".github/CODEOWNERS",
    ".github/rulesets/protect-main.json",
    "canary/hook.py",
    "devtools/ci.py",
]


def _owners() -> list[tuple[str, list[str]]]:
    rules = []
    for line in CODEOWNERS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, *owners = line.split()
            rules.append((pattern, owners))
    return rules


def _owner_of(path: str) -> list[str]:
    """GitHub's rule for this file's patterns (anchored files and directories): the last match wins."""
    owners: list[str] = []
    for pattern, who in _owners():
        anchored = pattern.removeprefix("/")
        if (pattern.endswith("/") and path.startswith(anchored)) or path == anchored:
            owners = who
    return owners


def test_codeowners_patterns_are_anchored_and_name_paths_that_exist() -> None:
    for pattern, owners in _owners():
        assert pattern.startswith("/"), f"{pattern}: anchor it at the root (see _owner_of)"
        assert "*" not in pattern, f"{pattern}: no globs (see _owner_of)"
        anchored = pattern.removeprefix("/")
        assert (REPO_ROOT / anchored).exists(), f"{pattern} matches nothing in the repository"
        assert owners == [PLACEHOLDER_TEAM]
    assert "PLACEHOLDER" in CODEOWNERS.read_text()  # the forker is told to replace the team


@pytest.mark.parametrize("path", DELIVERY_CRITICAL)
def test_every_delivery_critical_path_has_a_code_owner(path: str) -> None:
    assert (REPO_ROOT / path).exists()
    assert _owner_of(path) == [PLACEHOLDER_TEAM]


def test_the_service_code_needs_no_code_owner() -> None:
    assert _owner_of("src/download_service/app.py") == []  # an ordinary review is enough there


def _rules() -> dict[str, dict]:
    return {rule["type"]: rule.get("parameters", {}) for rule in json.loads(RULESET.read_text())["rules"]}


def test_ruleset_protects_the_pipelines_branch_with_no_bypass() -> None:
    ruleset = json.loads(RULESET.read_text())
    branch = load(cdk_json_context()[CONTEXT_KEY]).pipeline.branch
    assert (ruleset["target"], ruleset["enforcement"]) == ("branch", "active")
    assert ruleset["conditions"]["ref_name"] == {"include": [f"refs/heads/{branch}"], "exclude": []}
    assert ruleset["bypass_actors"] == []
    assert {"deletion", "non_fast_forward", "pull_request", "required_status_checks"} <= set(_rules())


def test_ruleset_requires_a_fresh_code_owner_approval() -> None:
    review = _rules()["pull_request"]
    # GitHub's REST schema requires these five parameters on a pull_request rule
    assert set(review) == {
        "required_approving_review_count",
        "require_code_owner_review",
        "dismiss_stale_reviews_on_push",
        "require_last_push_approval",
        "required_review_thread_resolution",
    }
    assert review["required_approving_review_count"] >= 1
    assert review["require_code_owner_review"] is True
    assert review["dismiss_stale_reviews_on_push"] is True
    assert review["require_last_push_approval"] is True


def test_ruleset_requires_the_check_the_pull_request_project_reports(pipeline_template: Template) -> None:
    checks = _rules()["required_status_checks"]
    assert checks["required_status_checks"] == [{"context": STATUS_CONTEXT}]
    assert checks["strict_required_status_checks_policy"] is True  # tested against the branch as it is now
    project = only(
        pipeline_template.find_resources("AWS::CodeBuild::Project", {"Properties": {"Source": {"Type": "GITHUB"}}})
    )
    assert project["Properties"]["Source"]["BuildStatusConfig"] == {"Context": STATUS_CONTEXT}
