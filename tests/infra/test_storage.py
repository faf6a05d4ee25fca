"""Stateful stack: the files bucket and the access-log bucket."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from .conftest import Synth, only

FILES = {"BucketName": "download-service-prod-files-123456789012-eu-west-1"}


def _buckets(template: Template) -> dict[str, dict]:
    return template.find_resources("AWS::S3::Bucket")


def test_every_bucket_blocks_public_access_and_encrypts(prod_stateful: Template, dev_stateful: Template) -> None:
    for template in (prod_stateful, dev_stateful):
        buckets = _buckets(template)
        assert len(buckets) == 2
        for bucket in buckets.values():
            props = bucket["Properties"]
            assert props["PublicAccessBlockConfiguration"] == {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }
            assert props["BucketEncryption"] == {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
            assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_every_bucket_policy_denies_plain_http(prod_stateful: Template) -> None:
    policies = prod_stateful.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        (deny,) = [s for s in statements if s["Effect"] == "Deny" and s["Action"] == "s3:*"]
        assert deny["Principal"] == {"AWS": "*"}
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_files_bucket_is_versioned_and_logs_to_the_log_bucket(prod_stateful: Template) -> None:
    files = only(prod_stateful.find_resources("AWS::S3::Bucket", {"Properties": FILES}))["Properties"]
    assert files["VersioningConfiguration"] == {"Status": "Enabled"}
    log_bucket_id = next(
        logical for logical, bucket in _buckets(prod_stateful).items() if "BucketName" not in bucket["Properties"]
    )
    assert files["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": log_bucket_id},
        "LogFilePrefix": "s3/files/",
    }


def test_log_bucket_expires_logs_after_the_configured_retention(synth: Synth, prod_stateful: Template) -> None:
    days = synth.built.config.stages["prod"].logs.retention_days
    prod_stateful.has_resource_properties(
        "AWS::S3::Bucket",
        {"LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({"ExpirationInDays": days})])}},
    )


def test_prod_retains_data_dev_deletes_it(prod_stateful: Template, dev_stateful: Template) -> None:
    for bucket in _buckets(prod_stateful).values():
        assert bucket["DeletionPolicy"] == "Retain"
        assert bucket["UpdateReplacePolicy"] == "Retain"
    assert not prod_stateful.find_resources("Custom::S3AutoDeleteObjects")
    for bucket in _buckets(dev_stateful).values():
        assert bucket["DeletionPolicy"] == "Delete"
    assert len(dev_stateful.find_resources("Custom::S3AutoDeleteObjects")) == 2


def test_alb_may_write_its_access_logs(prod_stateful: Template) -> None:
    prod_stateful.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:PutObject",
                                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                                "Resource": Match.any_value(),
                            }
                        )
                    ]
                )
            }
        },
    )
