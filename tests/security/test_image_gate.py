"""The image gate (devtools/image_gate.py) against a stubbed ECR: which scans pass, which block, which cannot be judged.

Every ECR call is a botocore Stubber response (checked against ECR's service model) with the exact request the gate
must send; no test waits for real: sleeping advances a fake clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from devtools import image_gate
from tests.security.ecr_responses import (
    ACCOUNT,
    DIGEST,
    REGION,
    REPOSITORY,
    TAG,
    basic,
    enhanced,
    image_details,
    scan_page,
)

TODAY = dt.date(2026, 6, 1)
SCAN_REQUEST = {"repositoryName": REPOSITORY, "imageId": {"imageDigest": DIGEST}}
CLEAN = scan_page("COMPLETE", findings=[])
OPENSSL = basic("CVE-2026-0001", "CRITICAL", "openssl", "3.5.1-1")
ZLIB_HIGH = basic("CVE-2026-0002", "HIGH", "zlib", "1:1.3.dfsg-3")
MEDIUM = basic("CVE-2026-0003", "MEDIUM", "tar", "1.35+dfsg-3")
POLLS_IN_60_S = 7  # at 0, 10, ..., 60 s (--wait-seconds 60)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def ecr() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client("ecr", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()  # the gate made every call it was expected to


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _image_found(stubber: Stubber) -> None:
    stubber.add_response(
        "describe_images", image_details(), {"repositoryName": REPOSITORY, "imageIds": [{"imageTag": TAG}]}
    )


def _scan(stubber: Stubber, *pages: dict) -> None:
    """One pagination: each page after the first is asked for with the previous page's token."""
    for page, previous in zip(pages, (None, *pages), strict=False):
        token = (previous or {}).get("nextToken")
        stubber.add_response(
            "describe_image_scan_findings", page, {**SCAN_REQUEST, **({"nextToken": token} if token else {})}
        )


def _allowlist(
    tmp_path: Path, *, expires: str = "2026-07-01", cve: str = "CVE-2026-0001", package: str = "openssl"
) -> Path:
    path = tmp_path / "image-allowlist.toml"
    path.write_text(
        f'[[exception]]\nid = "{cve}"\npackage = "{package}"\nreason = "no fixed trixie package yet; the TLS '
        f'server code is unreachable"\naccepted = 2026-05-15\nexpires = {expires}\n'
    )
    return path


def _gate(ecr, clock: FakeClock, tmp_path: Path, *args: str, allow: Path | None = None) -> int:
    allow = allow or _allowlist(tmp_path, cve="CVE-2000-0000", package="none")  # an entry that matches nothing
    argv = ["--repository", REPOSITORY, "--tag", TAG, "--allow", str(allow), "--wait-seconds", "60", *args]
    return image_gate.main(argv, ecr=ecr[0], sleep=clock.sleep, clock=clock, today=TODAY)


def test_a_clean_image_passes(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    _scan(ecr[1], CLEAN)
    assert _gate(ecr, clock, tmp_path) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"image_gate: PASS {REPOSITORY}@{DIGEST}: 0 findings, 0 blocking at CRITICAL, 0 allowed"
    ]
    assert clock.sleeps == []


def test_a_critical_finding_fails_naming_severity_cve_and_package(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    _scan(ecr[1], scan_page("COMPLETE", findings=[MEDIUM, OPENSSL]))
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_FINDINGS
    out = capsys.readouterr().out.splitlines()
    assert "image_gate: BLOCKED CRITICAL CVE-2026-0001 openssl 3.5.1-1" in out
    assert not any("CVE-2026-0003" in line for line in out)  # MEDIUM is below the bar
    assert out[-1].startswith(f"image_gate: FAIL {REPOSITORY}@{DIGEST}: 2 findings, 1 blocking")


def test_high_passes_by_default_and_fails_with_the_flag(ecr, clock, tmp_path, capsys):
    for args, expected in (((), 0), (("--fail-on", "CRITICAL,HIGH"), image_gate.EXIT_FINDINGS)):
        _image_found(ecr[1])
        _scan(ecr[1], scan_page("COMPLETE", findings=[ZLIB_HIGH]))
        assert _gate(ecr, clock, tmp_path, *args) == expected
    out = capsys.readouterr().out
    assert out.count("BLOCKED HIGH CVE-2026-0002 zlib 1:1.3.dfsg-3") == 1
    assert "1 blocking at CRITICAL,HIGH" in out


def test_an_allow_listed_finding_passes_and_is_reported(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    _scan(ecr[1], scan_page("COMPLETE", findings=[OPENSSL]))
    assert _gate(ecr, clock, tmp_path, allow=_allowlist(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "image_gate: allowed CRITICAL CVE-2026-0001 openssl" in out
    assert "PASS" in out


def test_an_expired_allow_list_entry_no_longer_applies(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    _scan(ecr[1], scan_page("COMPLETE", findings=[OPENSSL]))
    expired = _allowlist(tmp_path, expires="2026-05-31")
    assert _gate(ecr, clock, tmp_path, allow=expired) == image_gate.EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "image_gate: exception CVE-2026-0001 (openssl) expired on 2026-05-31: no longer applied" in out
    assert "BLOCKED CRITICAL CVE-2026-0001 openssl" in out


def test_an_entry_for_another_package_does_not_apply(ecr, clock, tmp_path):
    _image_found(ecr[1])
    _scan(ecr[1], scan_page("COMPLETE", findings=[OPENSSL]))
    assert _gate(ecr, clock, tmp_path, allow=_allowlist(tmp_path, package="libssl3")) == image_gate.EXIT_FINDINGS


def test_a_running_scan_is_waited_for_then_judged(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    ecr[1].add_client_error(
        "describe_image_scan_findings",
        "ScanNotFoundException",
        f"Image scan does not exist for the image with '{{imageDigest:'{DIGEST}'}}' in the repository '{REPOSITORY}'",
        expected_params=SCAN_REQUEST,
    )
    _scan(ecr[1], scan_page("PENDING", description="Scan pending"))
    _scan(ecr[1], scan_page("IN_PROGRESS", description="Scan in progress"))
    _scan(ecr[1], scan_page("COMPLETE", findings=[OPENSSL]))
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_FINDINGS
    assert clock.sleeps == [image_gate.POLL_SECONDS] * 3
    assert "BLOCKED CRITICAL CVE-2026-0001" in capsys.readouterr().out


def test_a_scan_still_running_at_the_deadline_is_not_judged(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    for _ in range(POLLS_IN_60_S):
        _scan(ecr[1], scan_page("IN_PROGRESS", description="Scan in progress"))
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_NOT_AUDITED
    assert (
        capsys.readouterr().out
        == f"image_gate: NOT JUDGED: scan of {REPOSITORY}@{DIGEST} still IN_PROGRESS after 60 s\n"
    )


def test_an_image_that_is_never_scanned_says_how_to_turn_scanning_on(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    for _ in range(POLLS_IN_60_S):
        ecr[1].add_client_error("describe_image_scan_findings", "ScanNotFoundException", expected_params=SCAN_REQUEST)
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_NOT_AUDITED
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"image_gate: NOT JUDGED: no scan of {REPOSITORY}@{DIGEST} after 60 s")
    assert "make bootstrap" in out[0]


@pytest.mark.parametrize(
    ("status", "description"),
    [
        ("FAILED", "UnsupportedImageError: The operating system and/or package manager are not supported."),
        ("UNSUPPORTED_IMAGE", "The operating system and/or package manager are not supported."),
        ("FINDINGS_UNAVAILABLE", "No findings are available for this image."),
    ],
)
def test_a_scan_that_could_not_judge_the_image_fails_in_one_line(ecr, clock, tmp_path, capsys, status, description):
    _image_found(ecr[1])
    _scan(ecr[1], scan_page(status, description=description))
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_NOT_AUDITED
    assert (
        capsys.readouterr().out == f"image_gate: NOT JUDGED: scan of {REPOSITORY}@{DIGEST} is {status}: {description}\n"
    )
    assert clock.sleeps == []


def test_an_image_that_is_not_in_the_repository_fails_in_one_line(ecr, clock, tmp_path, capsys):
    ecr[1].add_client_error(
        "describe_images",
        "ImageNotFoundException",
        f"The image with imageId {{imageDigest:'null', imageTag:'{TAG}'}} does not exist within the repository",
        expected_params={"repositoryName": REPOSITORY, "imageIds": [{"imageTag": TAG}]},
    )
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_NOT_AUDITED
    assert capsys.readouterr().out == f"image_gate: NOT JUDGED: {REPOSITORY}:{TAG} not found (ImageNotFoundException)\n"


def test_every_page_of_findings_is_judged(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    _scan(
        ecr[1],
        scan_page("COMPLETE", findings=[MEDIUM], next_token="page-2"),
        scan_page("COMPLETE", findings=[ZLIB_HIGH], next_token="page-3"),
        scan_page("COMPLETE", findings=[OPENSSL]),
    )
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "BLOCKED CRITICAL CVE-2026-0001 openssl" in out  # only on the last page
    assert "3 findings, 1 blocking" in out


def test_enhanced_scanning_findings_block_unless_inspector_closed_them(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    _scan(
        ecr[1],
        scan_page(
            "ACTIVE",
            description="Continuous scan is selected for image.",
            enhanced_findings=[
                enhanced("CVE-2026-0010", "CRITICAL", "libexpat1", "2.7.1-2"),
                enhanced("CVE-2026-0011", "CRITICAL", "gzip", "1.13-1", status="CLOSED"),
            ],
        ),
    )
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "image_gate: BLOCKED CRITICAL CVE-2026-0010 libexpat1 2.7.1-2" in out
    assert "CVE-2026-0011" not in out


def test_another_accounts_registry_is_asked_by_registry_id(ecr, clock, tmp_path):
    registry = {"registryId": ACCOUNT}
    ecr[1].add_response(
        "describe_images", image_details(), {"repositoryName": REPOSITORY, "imageIds": [{"imageTag": TAG}], **registry}
    )
    ecr[1].add_response("describe_image_scan_findings", CLEAN, {**SCAN_REQUEST, **registry})
    assert _gate(ecr, clock, tmp_path, "--registry-id", ACCOUNT) == 0


def test_unknown_severities_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        image_gate.parse_args(["--repository", REPOSITORY, "--tag", TAG, "--fail-on", "CRITICAL,SEVERE"])
    assert "SEVERE" in capsys.readouterr().err


def test_the_committed_allow_list_is_valid():
    image_gate.dated_exceptions.load(image_gate.ALLOWLIST)


def test_access_denied_across_accounts_is_one_line_that_says_what_admits_the_caller(ecr, clock, tmp_path, capsys):
    """Issue 18 e): in three accounts the gate (tooling account) reads the dev account's bootstrap repository, whose
    policy must admit it; before `make bootstrap` added that statement, this was a traceback."""
    message = "User: arn:aws:sts::111111111111:assumed-role/gate is not authorized to perform: ecr:DescribeImages"
    ecr[1].add_client_error(
        "describe_images",
        "AccessDeniedException",
        message,
        expected_params={"repositoryName": REPOSITORY, "imageIds": [{"imageTag": TAG}], "registryId": ACCOUNT},
    )
    assert _gate(ecr, clock, tmp_path, "--registry-id", ACCOUNT) == image_gate.EXIT_NOT_AUDITED
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(
        f"image_gate: NOT JUDGED: DescribeImages on {REPOSITORY}: AccessDeniedException: {message}"
    )
    assert f"registry {ACCOUNT}" in out[0]
    assert "make bootstrap" in out[0]


def test_any_other_aws_error_while_reading_findings_is_one_line(ecr, clock, tmp_path, capsys):
    _image_found(ecr[1])
    ecr[1].add_client_error(
        "describe_image_scan_findings", "ThrottlingException", "Rate exceeded", expected_params=SCAN_REQUEST
    )
    assert _gate(ecr, clock, tmp_path) == image_gate.EXIT_NOT_AUDITED
    assert capsys.readouterr().out == (
        f"image_gate: NOT JUDGED: DescribeImageScanFindings on {REPOSITORY}: ThrottlingException: Rate exceeded\n"
    )


def test_missing_credentials_are_one_line(tmp_path, capsys, monkeypatch):
    """The real client, built by the CLI itself, in an environment without any credentials."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9")  # were credentials found after all: no network
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session made by an earlier test caches its credentials
    argv = ["--repository", REPOSITORY, "--tag", TAG, "--region", REGION, "--allow", str(_allowlist(tmp_path))]
    assert image_gate.main(argv, today=TODAY) == image_gate.EXIT_NOT_AUDITED
    assert capsys.readouterr().out == f"image_gate: NOT JUDGED: {REPOSITORY}: Unable to locate credentials\n"
