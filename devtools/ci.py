"""`make ci`: run buildspec.yml's phases on this machine, the way CodeBuild runs them in the pipeline and on PRs.

    python -m devtools.ci                 # install, pre_build, build, post_build
    python -m devtools.ci --phase build   # one phase (repeatable)
    python -m devtools.ci --dry-run       # print the plan only

Each command runs in bash with `set -eo pipefail`, from the repository root, with buildspec `env.variables`
exported. The first failing command stops the run (its phase and command are named); `post_build` still runs
after a failed `build`, as in CodeBuild. `runtime-versions` cannot be switched locally: they are checked against
the local python3/node major.minor and reported when they differ.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.buildspec import BUILDSPEC, PHASES, Buildspec, load

REPO_ROOT = Path(__file__).resolve().parent.parent

#: (command, environment) -> exit code. Replaced by tests.
Runner = Callable[[str, dict[str, str]], int]


def run_in_bash(command: str, env: dict[str, str]) -> int:
    return subprocess.run(
        ["bash", "-c", f"set -eo pipefail\n{command}"], cwd=REPO_ROOT, env=env, check=False
    ).returncode


@dataclass
class Result:
    phase: str
    command: str
    code: int
    seconds: float


def plan(spec: Buildspec, phases: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(phase, command) pairs in execution order."""
    wanted = phases or PHASES
    unknown = [p for p in wanted if p not in PHASES]
    if unknown:
        raise SystemExit(f"ci: unknown phase {unknown[0]!r} (phases: {', '.join(PHASES)})")
    return [(phase, command) for phase in PHASES if phase in wanted for command in spec.phases.get(phase, ())]


def execute(
    spec: Buildspec,
    phases: Sequence[str] | None = None,
    *,
    runner: Runner = run_in_bash,
    out=sys.stdout,
    base_env: dict[str, str] | None = None,
) -> list[Result]:
    """Run the plan; stop at the first failure except that post_build runs anyway. Returns every result."""
    env = {**(os.environ if base_env is None else base_env), **spec.variables}
    results: list[Result] = []
    failed = False
    for phase, command in plan(spec, phases):
        if failed and phase != "post_build":
            continue
        print(f"ci: [{phase}] {command}", file=out, flush=True)
        started = time.monotonic()
        code = runner(command, env)
        results.append(Result(phase, command, code, time.monotonic() - started))
        if code != 0:
            print(f"ci: [{phase}] failed with exit code {code}: {command}", file=out, flush=True)
            if phase == "post_build":
                break
            failed = True
    return results


def runtime_warnings(spec: Buildspec) -> list[str]:
    """Differences between buildspec runtime-versions and this machine (informational: CodeBuild pins them)."""
    local = {"python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout
        local["nodejs"] = node.strip().lstrip("v").split(".")[0]
    except OSError:
        local["nodejs"] = "missing"
    warnings = []
    for runtime, wanted in spec.runtime_versions.items():
        have = local.get(runtime)
        if have is not None and not have.startswith(wanted.split(".")[0] if runtime == "nodejs" else wanted):
            warnings.append(f"ci: note: buildspec asks for {runtime} {wanted}, this machine has {have}")
    return warnings


def main(argv: Sequence[str] | None = None, *, runner: Runner = run_in_bash) -> int:
    parser = argparse.ArgumentParser(prog="make ci", description=__doc__.splitlines()[0])
    parser.add_argument("--buildspec", type=Path, default=BUILDSPEC)
    parser.add_argument("--phase", action="append", choices=PHASES, help="run only this phase (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    spec = load(args.buildspec)
    if args.dry_run:
        for phase, command in plan(spec, args.phase):
            print(f"[{phase}] {command}")
        return 0
    for warning in runtime_warnings(spec):
        print(warning)
    results = execute(spec, args.phase, runner=runner)
    failures = [r for r in results if r.code != 0]
    total = sum(r.seconds for r in results)
    if failures:
        first = failures[0]
        print(f"ci: FAILED in [{first.phase}] {first.command} (exit {first.code}); {total:.0f} s")
        return first.code or 1
    print(f"ci: OK, {len(results)} commands in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
