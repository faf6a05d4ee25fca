"""The image vulnerability gate: after the pipeline publishes the image and before anything deploys it.

    python -m devtools.image_gate --repository REPO --tag TAG [--registry-id ACCOUNT] [--region REGION]
                                  [--fail-on CRITICAL,HIGH] [--allow requirements/image-allowlist.toml]
                                  [--wait-seconds N]

1. The tag (the CDK image asset's hash) is resolved to the digest ECR holds for it, and everything after is about
   that digest: a tag can move, the scanned content cannot.
2. The registry's scan of that digest must finish: IN_PROGRESS / PENDING (and no scan yet, which is how a scan on
   push looks for its first seconds) are waited for, polling every few seconds up to --wait-seconds. COMPLETE
   (basic scanning) and ACTIVE (enhanced scanning: Amazon Inspector monitors it) have findings to judge; any other
   status (FAILED, UNSUPPORTED_IMAGE, FINDINGS_UNAVAILABLE, ...) or a scan that never appeared means nothing was
   judged, which is a failure (exit 3), never a pass.
3. Every finding of a --fail-on severity (default CRITICAL) fails the gate (exit 1), one line each: severity, CVE
   id, package, version. Basic scan findings name the package in their `package_name` attribute, enhanced ones in
   `packageVulnerabilityDetails.vulnerablePackages`; enhanced findings Inspector has CLOSED are fixed and skipped.
   A finding is accepted only while the allow-list (devtools/dated_exceptions.py format) has a live entry for its
   CVE id and package; an expired entry is named and no longer applies.

Needs only ecr:DescribeImages and ecr:DescribeImageScanFindings on the repository (pipeline/image_gate.py); for a
registry in another account, that repository's policy must admit the caller's account too (`make bootstrap` adds the
statement). Any AWS error (access denied, no credentials, no region) is one NOT JUDGED line and exit 3.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devtools import dated_exceptions
from devtools.scan import EXIT_FINDINGS, EXIT_NOT_AUDITED

ALLOWLIST = Path(__file__).resolve().parent.parent / "requirements" / "image-allowlist.toml"
#: Basic scanning's severities (ECR's FindingSeverity) and Inspector's UNTRIAGED.
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED", "UNTRIAGED")
FINISHED = {"COMPLETE", "ACTIVE"}
RUNNING = {"IN_PROGRESS", "PENDING"}
POLL_SECONDS = 10.0
#: What the gate calls (pipeline/image_gate.py grants exactly these).
ACTIONS = ("ecr:DescribeImages", "ecr:DescribeImageScanFindings")
#: What is missing when a pushed image has no scan at all (the CDK bootstrap's repository does not scan on push).
NO_SCAN_HINT = (
    "turn on scanning for the repository: `make bootstrap` merges a scan-on-push rule for the CDK asset repositories "
    "into the registry's scanning configuration (a bare put-registry-scanning-configuration would replace it)"
)


class GateError(RuntimeError):
    """The image could not be judged; the message is the one line to print."""


#: The codes ECR answers a call IAM or the repository policy refused with.
DENIED = {"AccessDenied", "AccessDeniedException"}


def aws_failure(error: ClientError | BotoCoreError, repository: str, registry: str | None) -> str:
    """One line for an AWS error: the call, the code, AWS's message, and for a refusal what admits the caller."""
    if isinstance(error, BotoCoreError):
        return f"{repository}: {error}"
    details = error.response.get("Error", {})
    code = details.get("Code", "?")
    line = f"{error.operation_name} on {repository}: {code}: {details.get('Message', '')}".rstrip(": ")
    if code in DENIED:
        where = f"registry {registry}" if registry else "this account's registry"
        line += (
            f" (the role needs {', '.join(ACTIONS)} on it; for {where} in another account its repository policy must"
            " admit this one: run `make bootstrap`)"
        )
    return line


@dataclass(frozen=True)
class Finding:
    severity: str
    id: str
    package: str
    version: str

    def line(self) -> str:
        return f"{self.severity} {self.id} {self.package} {self.version or '?'}"


# --- ECR ------------------------------------------------------------------------------------------------------------


def resolve_digest(ecr: Any, repository: str, tag: str, registry: dict[str, str]) -> str:
    missing = (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException)
    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}], **registry)
    except missing as error:
        raise GateError(f"{repository}:{tag} not found ({error.response['Error']['Code']})") from None
    (image,) = details["imageDetails"]
    return image["imageDigest"]


def scan_pages(
    ecr: Any,
    repository: str,
    digest: str,
    registry: dict[str, str],
    *,
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[dict]:
    """Every page of the finished scan of `digest`; waits (bounded) while it runs or has not started."""
    deadline = clock() + wait_seconds
    paginator = ecr.get_paginator("describe_image_scan_findings")
    subject = f"{repository}@{digest}"
    while True:
        pages = iter(paginator.paginate(repositoryName=repository, imageId={"imageDigest": digest}, **registry))
        try:
            first = next(pages)
            status = first.get("imageScanStatus", {})
        except ecr.exceptions.ScanNotFoundException:
            first, status = None, {"status": "NOT_FOUND"}
        state = status.get("status", "")
        if state in FINISHED:
            yield first
            yield from pages
            return
        if state not in RUNNING and state != "NOT_FOUND":
            reason = status.get("description") or "no description"
            raise GateError(f"scan of {subject} is {state or 'without a status'}: {reason}")
        if clock() + POLL_SECONDS > deadline:
            if state == "NOT_FOUND":
                raise GateError(f"no scan of {subject} after {wait_seconds:.0f} s: {NO_SCAN_HINT}")
            raise GateError(f"scan of {subject} still {state} after {wait_seconds:.0f} s")
        sleep(POLL_SECONDS)


# --- findings -------------------------------------------------------------------------------------------------------


def _basic(finding: dict) -> Iterator[Finding]:
    attributes = {a["key"]: a.get("value", "") for a in finding.get("attributes", [])}
    yield Finding(
        severity=finding.get("severity", "UNDEFINED"),
        id=finding.get("name", "?"),
        package=attributes.get("package_name", "?"),
        version=attributes.get("package_version", ""),
    )


def _enhanced(finding: dict) -> Iterator[Finding]:
    if finding.get("status") == "CLOSED":
        return
    details = finding.get("packageVulnerabilityDetails", {})
    packages = details.get("vulnerablePackages") or [{}]
    for package in packages:
        yield Finding(
            severity=finding.get("severity", "UNTRIAGED"),
            id=details.get("vulnerabilityId") or finding.get("title", "?"),
            package=package.get("name", "?"),
            version=package.get("version", ""),
        )


def findings(pages: Iterable[dict]) -> list[Finding]:
    """Both result shapes, in the registry's order."""
    out: list[Finding] = []
    for page in pages:
        body = page.get("imageScanFindings", {})
        for raw in body.get("findings", []):
            out.extend(_basic(raw))
        for raw in body.get("enhancedFindings", []):
            out.extend(_enhanced(raw))
    return out


def judge(
    found: list[Finding], fail_on: set[str], allowed: set[tuple[str, str]]
) -> tuple[list[Finding], list[Finding]]:
    """(blocking, accepted) among the findings of a failing severity."""
    relevant = [f for f in found if f.severity in fail_on]
    accepted = [f for f in relevant if (f.package.lower(), f.id) in allowed]
    return [f for f in relevant if f not in accepted], accepted


# --- CLI ------------------------------------------------------------------------------------------------------------


def _severities(text: str) -> set[str]:
    chosen = {part.strip().upper() for part in text.split(",") if part.strip()}
    unknown = chosen - set(SEVERITIES)
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"severities are {', '.join(SEVERITIES)}; got {text!r}")
    return chosen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.image_gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repository", required=True, help="ECR repository name")
    parser.add_argument("--tag", required=True, help="image tag (the CDK asset hash)")
    parser.add_argument("--registry-id", help="account of the registry, when not the caller's")
    parser.add_argument("--region", help="region of the registry (default: the SDK's)")
    parser.add_argument("--fail-on", type=_severities, default={"CRITICAL"}, help="default CRITICAL")
    parser.add_argument("--allow", type=Path, default=ALLOWLIST, help="dated allow-list (TOML)")
    parser.add_argument("--wait-seconds", type=float, default=900.0, help="how long a running scan may take")
    return parser.parse_args(argv)


def main(
    argv: list[str] | None = None,
    *,
    ecr: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    today: dt.date | None = None,
) -> int:
    args = parse_args(argv)
    today = today or dt.datetime.now(dt.UTC).date()
    entries = dated_exceptions.load(args.allow)
    registry = {"registryId": args.registry_id} if args.registry_id else {}
    try:
        if ecr is None:
            import boto3  # only the CLI needs an SDK session; the tests pass a stubbed client

            ecr = boto3.client("ecr", region_name=args.region)
        digest = resolve_digest(ecr, args.repository, args.tag, registry)
        pages = scan_pages(
            ecr, args.repository, digest, registry, wait_seconds=args.wait_seconds, sleep=sleep, clock=clock
        )
        found = findings(pages)
    except GateError as error:
        print(f"image_gate: NOT JUDGED: {error}")
        return EXIT_NOT_AUDITED
    except (ClientError, BotoCoreError) as error:
        print(f"image_gate: NOT JUDGED: {aws_failure(error, args.repository, args.registry_id)}")
        return EXIT_NOT_AUDITED
    for notice in dated_exceptions.expiry_notices(entries, today, gate="image_gate"):
        print(notice)
    blocking, accepted = judge(found, args.fail_on, dated_exceptions.in_force(entries, today))
    for finding in accepted:
        print(f"image_gate: allowed {finding.line()} (until its entry in {args.allow.name} expires)")
    for finding in blocking:
        print(f"image_gate: BLOCKED {finding.line()}")
    levels = ",".join(s for s in SEVERITIES if s in args.fail_on)
    verdict = "FAIL" if blocking else "PASS"
    print(
        f"image_gate: {verdict} {args.repository}@{digest}: {len(found)} findings,"
        f" {len(blocking)} blocking at {levels}, {len(accepted)} allowed"
    )
    return EXIT_FINDINGS if blocking else 0


if __name__ == "__main__":
    sys.exit(main())
