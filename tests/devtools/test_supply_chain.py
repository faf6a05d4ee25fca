"""The supply-chain wiring around the scanners: every lock hash-checked where it is installed and audited, the
SBOMs kept in the pipeline's output artifact, and Dependabot watching each pinned ecosystem."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools import scan
from pipeline.buildspec import load

REPO = Path(__file__).resolve().parents[2]
LOCK_FILES = [lock for lock, _ in scan.LOCKS]
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _locked(lock: Path) -> dict[str, tuple[str, int]]:
    """Package -> (version, number of hashes), from a lock's `name==version \\` + `--hash=` continuation lines."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in lock.read_text().splitlines():
        if match := _REQUIREMENT.match(line):
            current = match[1].lower()
            pins[current] = (match[2], 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def _make_dry_run(*targets: str) -> str:
    """What make would run (-n: nothing runs), for a venv that does not exist so every step is listed."""
    done = subprocess.run(
        ["make", "-n", *targets, "VENV=/nonexistent/venv"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return done.stdout


# --- hashes ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lock", LOCK_FILES, ids=[lock.name for lock in LOCK_FILES])
def test_every_locked_package_carries_hashes(lock):
    pins = _locked(lock)
    assert pins, f"{lock.name} pins nothing"
    assert [name for name, (_, hashes) in pins.items() if not hashes] == []
    assert "--generate-hashes" in lock.read_text().splitlines()[1]  # the header command regenerates them


def test_every_lock_is_audited_in_hash_checking_mode():
    assert {lock.name for lock in LOCK_FILES} == {"runtime.txt", "dev.txt", "bootstrap.txt"}
    assert {mode for _, mode in scan.LOCKS} == {"--require-hashes"}


def test_make_venv_installs_the_installer_and_then_the_dev_lock_by_hash():
    recipe = _make_dry_run("venv").replace("\\\n", " ")
    pip = next(line for line in recipe.splitlines() if " -m pip install " in line)
    sync = next(line for line in recipe.splitlines() if "uv pip sync" in line)
    assert "--require-hashes" in pip.split()
    assert "--only-binary=:all:" in pip.split()  # the lock holds uv's sdist too: never build it
    assert pip.split()[-2:] == ["-r", "requirements/bootstrap.txt"]
    assert "--require-hashes" in sync.split()
    assert sync.split()[-1] == "requirements/dev.txt"
    assert recipe.index(pip) < recipe.index(sync)


def test_the_uv_that_installs_the_venv_is_the_locked_one():
    (pinned, _) = _locked(REPO / "requirements/bootstrap.txt")["uv"]
    running = subprocess.run([str(scan.BIN / "uv"), "--version"], capture_output=True, text=True, check=True).stdout
    assert running.split()[:2] == ["uv", pinned]


# --- SBOMs in the cloud assembly ------------------------------------------------------------------------------------


def test_the_build_puts_the_sboms_into_the_assembly_after_synthesizing_it():
    commands = load().commands
    assert commands.index("make scan") < commands.index("make synth") < commands.index("make sbom-assembly")
    recipe = _make_dry_run("sbom-assembly")
    assert "devtools.scan sbom-copy cdk.out/sbom" in recipe
    assert "cdk.out/manifest.json" in recipe  # refuses to make a cdk.out of its own


def test_the_synth_step_keeps_cdk_out_as_its_output():
    source = (REPO / "pipeline/pipeline_stack.py").read_text()
    assert 'primary_output_directory="cdk.out"' in source


def test_sbom_copy_copies_both_sboms(monkeypatch, tmp_path, capsys):
    reports = tmp_path / "reports"
    reports.mkdir()
    monkeypatch.setattr(scan, "REPORTS", reports)
    target = tmp_path / "cdk.out" / "sbom"
    (reports / scan.SBOMS[0]).write_text('{"components": [1]}')
    assert scan.sbom_copy(target) == scan.EXIT_FINDINGS  # one is missing: nothing half-copied
    assert f"{scan.SBOMS[1]} not in reports/" in capsys.readouterr().out
    assert not target.exists()

    (reports / scan.SBOMS[1]).write_text('{"components": [2]}')
    assert scan.sbom_copy(target) == 0
    assert {p.name: p.read_text() for p in target.iterdir()} == {
        scan.SBOMS[0]: '{"components": [1]}',
        scan.SBOMS[1]: '{"components": [2]}',
    }


# --- Dependabot -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dependabot() -> dict:
    return yaml.safe_load((REPO / ".github/dependabot.yml").read_text())


def test_dependabot_watches_every_pinned_ecosystem_weekly(dependabot):
    assert dependabot["version"] == 2
    entries = {(u["package-ecosystem"], u["directory"]): u for u in dependabot["updates"]}
    assert set(entries) == {("docker", "/"), ("pip", "/requirements"), ("npm", "/")}
    for (_, directory), entry in entries.items():
        assert entry["schedule"]["interval"] == "weekly"
        assert entry["groups"]
        assert (REPO / directory.lstrip("/")).is_dir()
    assert (REPO / "package-lock.json").is_file()


def test_every_pip_group_names_locked_packages(dependabot):
    (pip,) = [u for u in dependabot["updates"] if u["package-ecosystem"] == "pip"]
    locked = {name for lock in LOCK_FILES for name in _locked(lock)}
    for name, group in pip["groups"].items():
        for pattern in group["patterns"]:
            assert fnmatch.filter(locked, pattern), f"group {name}: {pattern} matches no locked package"
