"""checkov skips, written where CDK renders the resource: one call per finding, with the reason it is acceptable.

checkov reads a CloudFormation resource's `Metadata.checkov.skip` list (`{"id": "CKV_AWS_xx", "comment": ...}`);
`skip` appends to it, so one resource can carry several skips.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct

#: Context switch for tests only: `false` records no skip, so a test can run checkov over the bare templates and
#: prove that every skip still answers a finding that really occurs (as nag.ACKNOWLEDGE_CONTEXT_KEY does for cdk-nag).
SKIP_CONTEXT_KEY = "download-service:checkov-skips"
METADATA_KEY = "checkov"

#: An access-log bucket (S3 server access logs, ALB logs) keeps these two findings.
ACCESS_LOG_BUCKET = {
    "CKV_AWS_18": "This is an access-log bucket (the destination of the other buckets' server access logs); logging "
    "it into itself would loop.",
    "CKV_AWS_21": "Access logs are written once by the log delivery services, never rewritten, and expire by "
    "lifecycle; versions would only keep expired or deleted logs past their retention.",
}


def cfn_resource(construct: IConstruct) -> CfnResource:
    """The CloudFormation resource behind `construct` (itself when it is one)."""
    if isinstance(construct, CfnResource):
        return construct
    child = construct.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path} renders no single CloudFormation resource to skip a check on")
    return child


def skip(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov's `check_id` on the resource `construct` renders, saying why."""
    resource = cfn_resource(construct)
    if resource.node.try_get_context(SKIP_CONTEXT_KEY) is False:
        return
    entries = list((resource.get_metadata(METADATA_KEY) or {}).get("skip", []))
    if any(entry["id"] == check_id for entry in entries):
        raise ValueError(f"{resource.node.path}: {check_id} is already skipped")
    resource.add_metadata(METADATA_KEY, {"skip": [*entries, {"id": check_id, "comment": reason}]})


def skip_all(construct: IConstruct, reasons: dict[str, str]) -> None:
    """`skip` for each check id -> reason of `reasons`."""
    for check_id, reason in reasons.items():
        skip(construct, check_id, reason)
