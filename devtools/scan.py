"""Security scanners that need more than one command line: `make audit`, `make secrets`, `make sbom`.

    python -m devtools.scan audit [--if-unreachable fail|warn]   pip-audit over the locked requirements
    python -m devtools.scan secrets                              detect-secrets over the tracked files vs the baseline
    python -m devtools.scan sbom                                 CycloneDX SBOMs into reports/
    python -m devtools.scan sbom-copy DIR                        those SBOMs into DIR (the pipeline's cdk.out/sbom)

audit: every locked requirement is checked against PyPI's vulnerability data. A vulnerability fails the run unless
`requirements/audit-exceptions.toml` lists it with a reason and an expiry date that has not passed (the format:
devtools/dated_exceptions.py). When the vulnerability service cannot be reached, nothing has been audited: that
fails too (exit 3), unless `--if-unreachable warn` is given, which prints a banner saying so and writes
`"audited": false` in the report - it never reports success for an audit that did not happen.

secrets: a finding fails the run unless `.secrets.baseline` lists it (same file, same hashed secret; line numbers may
move). Review a new finding, then either remove the secret or regenerate the baseline and mark the entry
`"is_secret": false` with a justification in this project's history.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from devtools import dated_exceptions
from devtools.dated_exceptions import DatedException as AuditException

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
BIN = Path(sys.executable).parent
# Every lock pins every artefact by hash (the installers check them): pip-audit reads each as fully pinned.
LOCKS = (
    (ROOT / "requirements" / "runtime.txt", "--require-hashes"),  # what the image installs
    (ROOT / "requirements" / "dev.txt", "--require-hashes"),  # tests, CDK, tooling
    (ROOT / "requirements" / "bootstrap.txt", "--require-hashes"),  # uv, which installs dev.txt
)
EXCEPTIONS = ROOT / "requirements" / "audit-exceptions.toml"
BASELINE = ROOT / ".secrets.baseline"
EXIT_FINDINGS, EXIT_NOT_AUDITED = 1, 3


# --- pip-audit ------------------------------------------------------------------------------------------------------


def load_exceptions(path: Path = EXCEPTIONS) -> list[AuditException]:
    """The documented, dated exceptions. A malformed entry is an error, not a silent pass."""
    return dated_exceptions.load(path)


@dataclass
class AuditResult:
    lock: str
    audited: int = 0
    skipped: list[str] | None = None
    vulnerabilities: list[dict] | None = None  # not excepted
    excepted: list[dict] | None = None

    @property
    def reachable(self) -> bool:
        return self.audited > 0


def interpret(lock: str, report: dict, exceptions: list[AuditException], today: dt.date) -> AuditResult:
    """Sort pip-audit's JSON report into audited, skipped, excepted and failing findings."""
    live = dated_exceptions.in_force(exceptions, today)
    result = AuditResult(lock=lock, skipped=[], vulnerabilities=[], excepted=[])
    for dependency in report.get("dependencies", []):
        name = dependency["name"].lower()
        if dependency.get("skip_reason"):
            result.skipped.append(f"{name}: {dependency['skip_reason']}")
            continue
        result.audited += 1
        for vuln in dependency.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            finding = {
                "package": name,
                "version": dependency["version"],
                "id": vuln["id"],
                "fix": vuln.get("fix_versions"),
            }
            bucket = result.excepted if any((name, i) in live for i in ids) else result.vulnerabilities
            bucket.append(finding)
    return result


def run_pip_audit(lock: Path, mode: str) -> dict:
    command = [
        str(BIN / "pip-audit"),
        "--requirement",
        str(lock),
        mode,
        "--disable-pip",
        "--vulnerability-service",
        "pypi",
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    # pip-audit exits 1 when it finds something; the JSON on stdout is the verdict either way.
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"pip-audit failed on {lock.name}: {done.stderr.strip()[-2000:]}") from None


def audit(if_unreachable: str) -> int:
    exceptions = load_exceptions()
    today = dt.datetime.now(dt.UTC).date()
    for notice in dated_exceptions.expiry_notices(exceptions, today, gate="audit"):
        print(notice)
    results = [interpret(lock.name, run_pip_audit(lock, mode), exceptions, today) for lock, mode in LOCKS]
    REPORTS.mkdir(exist_ok=True)
    audited = all(r.reachable and not r.skipped for r in results)
    (REPORTS / "audit.json").write_text(
        json.dumps({"audited": audited, "date": today.isoformat(), "results": [vars(r) for r in results]}, indent=2)
    )
    failing = [v for r in results for v in r.vulnerabilities]
    for r in results:
        print(
            f"audit: {r.lock}: {r.audited} packages audited, {len(r.skipped)} not audited,"
            f" {len(r.vulnerabilities)} vulnerabilities, {len(r.excepted)} under a dated exception"
        )
    for v in failing:
        print(
            f"audit: VULNERABLE {v['package']} {v['version']}: {v['id']} (fixed in {', '.join(v['fix'] or []) or '?'})"
        )
    if failing:
        return EXIT_FINDINGS
    if not audited:
        first = next((s for r in results for s in r.skipped), "no dependency answered")
        banner = "=" * 100
        print(
            f"{banner}\naudit: NOT AUDITED - the vulnerability service did not answer ({first}).\n"
            f"audit: no statement about known vulnerabilities can be made from this machine. Run `make audit` where\n"
            f"audit: PyPI's JSON API is reachable (the pipeline's build); details in reports/audit.json.\n{banner}",
            file=sys.stderr,
        )
        return 0 if if_unreachable == "warn" else EXIT_NOT_AUDITED
    print("audit: 0 known vulnerabilities")
    return 0


# --- detect-secrets -------------------------------------------------------------------------------------------------


def _findings(report: dict) -> set[tuple[str, str, str]]:
    return {
        (filename, item["type"], item["hashed_secret"])
        for filename, items in report.get("results", {}).items()
        for item in items
    }


def secrets() -> int:
    """Scan every tracked file; fail on any finding the baseline does not list."""
    done = subprocess.run(
        [str(BIN / "detect-secrets"), "scan", "--exclude-files", r"^\.secrets\.baseline$"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        cwd=ROOT,
    )
    found = json.loads(done.stdout)
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    new = _findings(found) - _findings(baseline)
    lines = {
        (filename, item["type"], item["hashed_secret"]): item["line_number"]
        for filename, items in found["results"].items()
        for item in items
    }
    for filename, kind, hashed in sorted(new):
        print(f"secrets: NEW {kind} in {filename}:{lines[(filename, kind, hashed)]}")
    stale = _findings(baseline) - _findings(found)
    if stale:
        print(f"secrets: {len(stale)} baseline entries no longer found (regenerate the baseline to drop them)")
    files = len(
        subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    )
    print(f"secrets: {files} tracked files scanned, {len(_findings(found))} findings, {len(new)} not in the baseline")
    return EXIT_FINDINGS if new else 0


# --- CycloneDX ------------------------------------------------------------------------------------------------------


SBOM_FORMAT = ("--of", "JSON", "--output-reproducible", "-o")
SBOMS = ("sbom-runtime.cdx.json", "sbom-build.cdx.json")


def sbom() -> int:
    """The runtime SBOM (what the image installs, from the hashed lock) and the build environment's."""
    REPORTS.mkdir(exist_ok=True)
    # Only the shipped one is schema-validated: validating the 120-package build SBOM costs ~12 s for little.
    runtime, build = SBOMS
    outputs = {
        runtime: ["requirements", str(ROOT / "requirements" / "runtime.txt"), "--validate"],
        build: ["environment", sys.executable, "--no-validate"],
    }
    env = {**os.environ, "PYTHONWARNINGS": "ignore::UserWarning"}  # "dependency graph incomplete": we list a lock
    for name, source in outputs.items():
        target = REPORTS / name
        subprocess.run(
            [
                str(BIN / "cyclonedx-py"),
                *source,
                "--pyproject",
                str(ROOT / "pyproject.toml"),
                *SBOM_FORMAT,
                str(target),
            ],
            check=True,
            timeout=600,
            cwd=ROOT,
            env=env,
        )
        components = json.loads(target.read_text())["components"]
        if not components:
            print(f"sbom: {name} lists no components")
            return EXIT_FINDINGS
        print(f"sbom: reports/{name}: {len(components)} components")
    return 0


def sbom_copy(target: Path) -> int:
    """Copy the SBOMs `sbom` wrote into `target`: the pipeline keeps them with the cloud assembly they describe."""
    missing = [name for name in SBOMS if not (REPORTS / name).is_file() or not (REPORTS / name).stat().st_size]
    if missing:
        print(f"sbom-copy: {', '.join(missing)} not in reports/: run `make sbom` first")
        return EXIT_FINDINGS
    target.mkdir(parents=True, exist_ok=True)
    for name in SBOMS:
        shutil.copyfile(REPORTS / name, target / name)
        print(f"sbom-copy: {target / name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.scan", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    audit_parser = commands.add_parser("audit")
    audit_parser.add_argument("--if-unreachable", choices=("fail", "warn"), default="fail")
    commands.add_parser("secrets")
    commands.add_parser("sbom")
    commands.add_parser("sbom-copy").add_argument("target", type=Path)
    args = parser.parse_args(argv)
    if args.command == "audit":
        return audit(args.if_unreachable)
    if args.command == "sbom-copy":
        return sbom_copy(args.target)
    return secrets() if args.command == "secrets" else sbom()


if __name__ == "__main__":
    sys.exit(main())
