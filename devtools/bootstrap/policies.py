"""The guardrail policies of an account created, or moved to this checkout's version, idempotently.

A customer managed policy keeps at most five versions ("If the policy has five versions, you must delete an existing
version using DeletePolicyVersion before you create a new version":
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html): before adding a sixth, the oldest
version that is not the default is deleted. An unchanged document changes nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

MAX_VERSIONS = 5


def _canonical(document: Any) -> str:
    if isinstance(document, str):  # the API returns it URL-encoded; boto3 usually decodes it already
        document = json.loads(unquote(document))
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def sync_policy(iam: Any, arn: str, name: str, document: dict[str, Any], description: str) -> str:
    """Make the managed policy `arn` hold `document` as its default version: "created", "updated" or "unchanged"."""
    text = json.dumps(document, separators=(",", ":"))
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        iam.create_policy(PolicyName=name, PolicyDocument=text, Description=description)
        return "created"
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    if _canonical(version["Document"]) == _canonical(document):
        return "unchanged"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= MAX_VERSIONS:
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
    return "updated"
