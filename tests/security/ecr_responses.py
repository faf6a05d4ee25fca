"""ECR responses as the service sends them, for botocore's Stubber (which checks each against ECR's service model:
botocore/data/ecr/2015-09-21/service-2.json). Basic scan findings carry the attribute keys basic scanning reports
(package_name, package_version, CVSS2_*); enhanced ones the Inspector shape (packageVulnerabilityDetails)."""

from __future__ import annotations

import datetime as dt
import hashlib

ACCOUNT = "111111111111"
REGION = "eu-west-1"
REPOSITORY = f"cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}"
#: A CDK asset hash has this shape (64 hex digits); computed, so no hex literal looks like a secret to the scanner.
TAG = hashlib.sha256(b"download-service image asset").hexdigest()
DIGEST = "sha256:9d1b2c3a4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
PUSHED = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)


def image_details() -> dict:
    return {
        "imageDetails": [
            {
                "registryId": ACCOUNT,
                "repositoryName": REPOSITORY,
                "imageDigest": DIGEST,
                "imageTags": [TAG],
                "imageSizeInBytes": 61_234_567,
                "imagePushedAt": PUSHED,
                "imageScanStatus": {"status": "IN_PROGRESS"},
                "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "artifactMediaType": "application/vnd.docker.container.image.v1+json",
            }
        ]
    }


def basic(cve: str, severity: str, package: str, version: str) -> dict:
    return {
        "name": cve,
        "uri": f"https://security-tracker.debian.org/tracker/{cve}",
        "severity": severity,
        "attributes": [
            {"key": "package_version", "value": version},
            {"key": "package_name", "value": package},
            {"key": "CVSS2_VECTOR", "value": "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
            {"key": "CVSS2_SCORE", "value": "7.5"},
        ],
    }


def enhanced(cve: str, severity: str, package: str, version: str, *, status: str = "ACTIVE") -> dict:
    return {
        "awsAccountId": ACCOUNT,
        "description": f"A flaw in {package}.",
        "findingArn": f"arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/0123456789abcdef0123456789abcdef",
        "firstObservedAt": PUSHED,
        "lastObservedAt": PUSHED,
        "packageVulnerabilityDetails": {
            "cvss": [
                {
                    "baseScore": 9.8,
                    "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    "source": "NVD",
                    "version": "3.1",
                }
            ],
            "referenceUrls": [f"https://www.cve.org/CVERecord?id={cve}"],
            "source": "DEBIAN_CVE",
            "sourceUrl": f"https://security-tracker.debian.org/tracker/{cve}",
            "vulnerabilityId": cve,
            "vulnerablePackages": [
                {
                    "name": package,
                    "version": version,
                    "epoch": 0,
                    "release": "1",
                    "arch": "X86_64",
                    "packageManager": "OS",
                    "sourceLayerHash": "sha256:26c307b5e35a59ce911f5fde5b9458120ec8734e831ea2da5649a9ad14abfd3d",
                    "fixedInVersion": "NotAvailable",
                }
            ],
        },
        "remediation": {"recommendation": {"text": "None Provided"}},
        "resources": [
            {
                "id": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}/{DIGEST}",
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "details": {
                    "awsEcrContainerImage": {
                        "architecture": "amd64",
                        "imageHash": DIGEST,
                        "imageTags": [TAG],
                        "platform": "DEBIAN_13",
                        "pushedAt": PUSHED,
                        "registry": ACCOUNT,
                        "repositoryName": REPOSITORY,
                    }
                },
            }
        ],
        "score": 9.8,
        "severity": severity,
        "status": status,
        "title": f"{cve} - {package}",
        "type": "PACKAGE_VULNERABILITY",
        "updatedAt": PUSHED,
        "fixAvailable": "NO",
        "exploitAvailable": "NO",
    }


def scan_page(
    status: str,
    *,
    findings: list[dict] | None = None,
    enhanced_findings: list[dict] | None = None,
    description: str = "The scan was completed successfully.",
    next_token: str | None = None,
) -> dict:
    page: dict = {
        "registryId": ACCOUNT,
        "repositoryName": REPOSITORY,
        "imageId": {"imageDigest": DIGEST, "imageTag": TAG},
        "imageScanStatus": {"status": status, "description": description},
    }
    if findings is not None or enhanced_findings is not None:
        everything = (findings or []) + (enhanced_findings or [])
        counts: dict[str, int] = {}
        for finding in everything:
            counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
        page["imageScanFindings"] = {
            "imageScanCompletedAt": PUSHED + dt.timedelta(minutes=2),
            "vulnerabilitySourceUpdatedAt": PUSHED - dt.timedelta(hours=3),
            "findingSeverityCounts": counts,
            **({"findings": findings} if findings is not None else {}),
            **({"enhancedFindings": enhanced_findings} if enhanced_findings is not None else {}),
        }
    if next_token:
        page["nextToken"] = next_token
    return page
