"""`make smoke` against a deployed stage: only SMOKE_BASE_URL is needed; inputs that cannot work stop it in one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stages.canary import CANARY_KEY, canary_sha256
from tests.smoke.conftest import remote_inputs

REPO_ROOT = Path(__file__).resolve().parents[2]
URL = "https://files.example.com"


def test_without_a_base_url_the_suite_starts_its_own_target() -> None:
    assert remote_inputs({}) is None


def test_a_base_url_alone_checks_the_canary_object_every_stage_seeds() -> None:
    assert remote_inputs({"SMOKE_BASE_URL": URL}) == (URL, CANARY_KEY, canary_sha256())


def test_a_named_object_is_checked_by_its_hash() -> None:
    env = {"SMOKE_BASE_URL": URL, "SMOKE_OBJECT_KEY": "a.txt", "SMOKE_OBJECT_SHA256": "AB" * 32}
    assert remote_inputs(env) == (URL, "a.txt", "ab" * 32)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMOKE_OBJECT_KEY": "a.txt"}, "make smoke: SMOKE_OBJECT_KEY (a key the stage holds) and SMOKE_OBJECT_SHA256"),
        ({"SMOKE_OBJECT_SHA256": "ab" * 32}, "make smoke: SMOKE_OBJECT_KEY (a key the stage holds) and"),
        ({"SMOKE_OBJECT_KEY": "a", "SMOKE_OBJECT_SHA256": "abc"}, "make smoke: SMOKE_OBJECT_SHA256 must be 64 hex"),
        ({"SMOKE_BASE_URL": "files.example.com"}, "make smoke: SMOKE_BASE_URL must start with http:// or https://"),
    ],
)
def test_inputs_that_cannot_work_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(pytest.UsageError, match="^" + re.escape(message)):
        remote_inputs({"SMOKE_BASE_URL": URL, **env})


def test_the_suite_stops_before_any_test_with_one_line() -> None:
    env = {**os.environ, "SMOKE_BASE_URL": "http://127.0.0.1:9", "SMOKE_OBJECT_KEY": "a.txt"}
    env.pop("SMOKE_OBJECT_SHA256", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/smoke"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line]
    assert len(lines) == 1
    assert lines[0].startswith("ERROR: make smoke: SMOKE_OBJECT_KEY (a key the stage holds) and SMOKE_OBJECT_SHA256")
