"""`make ci` (devtools/ci.py): parses buildspec.yml and runs its phases in CodeBuild's order and failure rules."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import ci
from pipeline.buildspec import load, parse

REPO_ROOT = Path(__file__).resolve().parents[2]

SPEC = parse(
    """
version: 0.2
env:
  variables:
    GREETING: hello
phases:
  post_build:
    commands: [report]
  build:
    commands: [lint, test]
  install:
    runtime-versions: {python: "3.12"}
    commands: [setup]
"""
)


class Recorder:
    def __init__(self, failing: set[str] = frozenset()) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.failing = failing

    def __call__(self, command: str, env: dict[str, str]) -> int:
        self.calls.append((command, env.get("GREETING")))
        return 3 if command in self.failing else 0


def test_phases_run_in_codebuild_order_with_the_variables() -> None:
    recorder = Recorder()
    results = ci.execute(SPEC, runner=recorder, out=io.StringIO(), base_env={})
    assert recorder.calls == [("setup", "hello"), ("lint", "hello"), ("test", "hello"), ("report", "hello")]
    assert [r.phase for r in results] == ["install", "build", "build", "post_build"]


def test_a_failure_stops_the_build_but_post_build_still_runs() -> None:
    recorder = Recorder(failing={"lint"})
    out = io.StringIO()
    results = ci.execute(SPEC, runner=recorder, out=out, base_env={})
    assert [c for c, _ in recorder.calls] == ["setup", "lint", "report"]
    assert [r.code for r in results] == [0, 3, 0]
    assert "[build] failed with exit code 3: lint" in out.getvalue()


def test_one_phase_only() -> None:
    recorder = Recorder()
    ci.execute(SPEC, ["build"], runner=recorder, out=io.StringIO(), base_env={})
    assert [c for c, _ in recorder.calls] == ["lint", "test"]


def test_main_returns_the_failing_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "buildspec.yml"
    spec.write_text("version: 0.2\nphases:\n  build:\n    commands: [ok, broken]\n")
    assert ci.main(["--buildspec", str(spec)], runner=Recorder(failing={"broken"})) == 3
    assert "FAILED in [build] broken (exit 3)" in capsys.readouterr().out


def test_dry_run_lists_the_real_buildspec(capsys: pytest.CaptureFixture[str]) -> None:
    assert ci.main(["--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    spec = load()
    assert lines == [f"[{phase}] {command}" for phase, commands in spec.phases.items() for command in commands]
    assert "[build] make synth" in lines


def test_real_commands_run_in_bash_from_the_repo_root(tmp_path: Path) -> None:
    """The whole path through `python -m devtools.ci`: parse, dispatch to bash, env variables, exit codes."""
    marker = tmp_path / "ran"
    spec = tmp_path / "buildspec.yml"
    spec.write_text(
        "version: 0.2\n"
        "env:\n  variables:\n    MARKER: " + str(marker) + "\n"
        "phases:\n"
        '  build:\n    commands:\n      - test -f buildspec.yml\n      - echo "$PWD" > "$MARKER"\n'
        "  post_build:\n    commands:\n      - exit 7\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "devtools.ci", "--buildspec", str(spec)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 7, run.stdout + run.stderr
    assert marker.read_text().strip() == str(REPO_ROOT)
    assert "FAILED in [post_build] exit 7" in run.stdout


def test_unknown_phase_is_refused() -> None:
    with pytest.raises(SystemExit):
        ci.plan(SPEC, ["deploy"])
