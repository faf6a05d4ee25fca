"""The one baseline every bucket of this project is created with."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_s3 as s3
from constructs import Construct

from .retention import removal_policy


def private_bucket(scope: Construct, construct_id: str, *, retain: bool, **props: Any) -> s3.Bucket:
    """A bucket nobody outside the account can reach: public access blocked, ACLs disabled (owner-enforced),
    TLS-only bucket policy, SSE-S3 unless `props` asks for KMS.

    `retain=True` keeps the bucket and its objects when the stack is deleted; otherwise the stack empties and deletes
    it, so a sandbox or a pipeline can be torn down with one command.
    """
    props.setdefault("encryption", s3.BucketEncryption.S3_MANAGED)
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        removal_policy=removal_policy(retain),
        auto_delete_objects=not retain,
        **props,
    )
