"""What CloudFormation itself calls for each resource type (the registry schemas' handler permissions, as cfn-lint
ships them), and which of those the execution policies leave out on purpose, with the reason."""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint

from stages.common.keys import KEY_MANAGEMENT

from .policy_eval import allowing_statements

#: Names the CloudFormation resource schemas list among a handler's permissions that are API operations, not IAM
#: actions (IAM authorizes them under another name, e.g. DeleteBucketEncryption as s3:PutEncryptionConfiguration).
#: tests/security/test_cloudsplaining.py checks each against the IAM action database.
NOT_IAM_ACTIONS = frozenset(
    {
        "lambda:AssociateRuntimeAlias",
        "lambda:GetLayerVersionByArn",
        "s3:DeleteBucketAnalyticsConfiguration",
        "s3:DeleteBucketCors",
        "s3:DeleteBucketEncryption",
        "s3:DeleteBucketLifecycle",
        "s3:DeleteBucketMetricsConfiguration",
        "s3:DeleteBucketReplication",
        "s3:PutBucketEncryption",
        "s3:PutBucketReplication",
        "s3:PutObjectLockConfiguration",
        "s3:REST.PUT.OBJECT",
        "s3:UpdateBucketMetadataAnnotationTableConfiguration",
        "synthetics:ReplicateCanary",
    }
)


#: Handler permissions the policies leave out on purpose: the schema lists every permission any configuration of
#: the type may need; these belong to features no stage template configures (or to a refusal by design).
NOT_NEEDED = {
    "acm-pca:*": "private CA certificates: ours are public and DNS-validated",
    "s3tables:*": "S3 table buckets are not used",
    "s3:*MetadataTableConfiguration": "S3 metadata tables are not configured",
    "s3:UpdateBucketMetadata*": "S3 metadata tables are not configured",
    "s3:*Replication*": "no bucket replicates (and replication would pass a role)",
    "s3:PutAccelerateConfiguration": "transfer acceleration is not configured",
    "s3:PutAnalyticsConfiguration": "storage class analysis is not configured",
    "s3:PutBucketCORS": "no bucket serves browsers directly: downloads go through the service",
    "s3:PutBucketWebsite": "no website hosting",
    "s3:DeleteBucketWebsite": "no website hosting",
    "s3:PutIntelligentTieringConfiguration": "Intelligent-Tiering archive tiers are not configured",
    "s3:PutInventoryConfiguration": "inventories are not configured",
    "s3:PutMetricsConfiguration": "request metrics are not configured",
    "s3:PutBucketNotification": "no bucket notifications",
    "s3:PutBucketObjectLockConfiguration": "Object Lock is not configured",
    "s3:PutBucketAbac": "attribute-based access for buckets is not configured",
    "s3:PutBucketAcl": "ACLs are disabled on every bucket (BucketOwnerEnforced)",
    "s3:PutObjectAcl": "ACLs are disabled on every bucket (BucketOwnerEnforced)",
    "s3:DeleteObject": "CloudFormation deletes no objects: the auto-delete providers' roles empty buckets",
    "lambda:*Concurrency*": "no reserved or provisioned concurrency",
    "lambda:PutFunctionCodeSigningConfig": "code signing is not configured",
    "lambda:DeleteFunctionCodeSigningConfig": "code signing is not configured",
    "lambda:GetCodeSigningConfig": "code signing is not configured",
    "lambda:PassCapacityProvider": "Lambda capacity providers are not used",
    "lambda:PutFunctionScalingConfig": "Lambda capacity providers are not used",
    "lambda:PutFunctionRecursionConfig": "recursive-loop detection keeps its default",
    "lambda:PutRuntimeManagementConfig": "runtime updates keep their default",
    "elasticfilesystem:*": "no function mounts EFS",
    "s3files:*": "no function mounts S3 Files",
    "kms:CreateGrant": "no function or canary uses a customer managed key",
    "kms:Decrypt": "no function or canary uses a customer managed key",
    "kms:Encrypt": "no function or canary uses a customer managed key",
    "kms:GenerateDataKey*": "no function or canary uses a customer managed key",
    "application-autoscaling:*ScheduledAction": "target tracking only, no scheduled scaling",
    "ec2:*VpnGateway": "the VPC attaches an internet gateway, no VPN gateway",
    "ec2:*SubnetCidrBlock": "no IPv6 or secondary subnet CIDR blocks",
    "ec2:ModifyVpcTenancy": "default tenancy",
    "ec2:CreateVpcEncryptionControl": "VPC encryption controls are not configured",
    "vpc-lattice:*": "no VPC Lattice service-network endpoints",
    "vpce:AllowMultiRegion": "no cross-region endpoints",
    "autoscaling:DescribeTags": "flow logs of Auto Scaling groups are not used",
    "ecs:PutAccountSetting*": "account-wide ECS settings are never a stage's to change",
    "cognito-idp:*": "no Cognito authentication on listeners, no web ACL on user pools",
    "firehose:*": "logs go to CloudWatch Logs, never to Firehose",
    "iam:DescribeOrganization": "WAF logs stay in the account (CloudWatch Logs)",
    "logs:*KmsKey": "log groups use the service's default encryption",
    "logs:PutDataProtectionPolicy": "no data protection policies",
    "logs:*IndexPolicy": "no field index policies",
    "logs:PutBearerTokenAuthentication": "no bearer-token log ingestion",
    "logs:PutLogGroupDeletionProtection": "deletion protection of log groups is not configured",
    "logs:DeleteResourcePolicy": "no log group owns a resource policy (WAF's delivery policy is account-wide)",
    "sns:PutDataProtectionPolicy": "no data protection policies",
    "synthetics:StartCanaryDryRun": "canary updates are not dry-run first",
    "payments:GetConnectedAccount": "no paid (Marketplace) rule groups",
    "billing:GetBillingViewData": "budgets cover the account's own costs, no billing views",
    "wafv2:*PermissionPolicy": "no rule group is shared",
    "amplify:*": "the web ACL protects the ALB only",
    "apigateway:*": "the web ACL protects the ALB only",
    "apprunner:*": "the web ACL protects the ALB only",
    "appsync:*": "the web ACL protects the ALB only",
    "bedrock-agentcore:*": "the web ACL protects the ALB only",
    "ec2:*VerifiedAccessInstanceWebAcl*": "the web ACL protects the ALB only",
    "iam:*GroupPolicy": "the stages create no IAM groups and attach nothing to any",
    "iam:*UserPolicy": "the stages create no IAM users and attach nothing to any",
    "iam:DeleteRolePermissionsBoundary": "removing the boundary from a role is denied by design",
    **dict.fromkeys(
        KEY_MANAGEMENT, "granted by each key's own policy to the role that deploys it (stages/common/keys.py)"
    ),
}


def _not_needed(action: str) -> str | None:
    return next((reason for pattern, reason in NOT_NEEDED.items() if fnmatch.fnmatchcase(action, pattern)), None)


#: The handlers CloudFormation runs during a stack operation (`list` is for resource discovery, never called).
HANDLERS = ("create", "update", "delete", "read")


@cache
def _resource_schemas() -> dict[str, dict[str, Any]]:
    """The CloudFormation registry schemas cfn-lint ships: each type's handlers and the permissions they call."""
    schemas = {}
    for path in (Path(cfnlint.__file__).parent / "data" / "schemas" / "resources").glob("*.json"):
        schema = json.loads(path.read_text())
        if "typeName" in schema:
            schemas[schema["typeName"]] = schema
    return schemas


def handler_permissions(resource_type: str) -> dict[str, list[str]]:
    """What CloudFormation calls to create, update, delete and read a resource of this type, by handler; {} for a
    type without a registry schema (its permissions are then listed by hand where it is tested)."""
    handlers = _resource_schemas().get(resource_type, {}).get("handlers", {})
    return {h: handlers[h].get("permissions", []) for h in HANDLERS if h in handlers}


def uncovered(
    resource_types: set[str],
    documents: list[dict[str, Any]],
    by_hand: dict[str, list[str]] | None = None,
    *,
    check_stale: bool = True,
) -> dict[str, list[str]]:
    """Each permission CloudFormation's handlers call for these types (`by_hand` for types without a schema) that
    no Allow statement names, with where it is needed; permissions in NOT_NEEDED or NOT_IAM_ACTIONS are skipped.
    With `check_stale`, a NOT_NEEDED entry that none of these types needs any more is reported too."""
    missing: dict[str, list[str]] = {}
    skipped = set()
    for resource_type in sorted(
        t for t in resource_types if not t.startswith("Custom::") and t != "AWS::CDK::Metadata"
    ):
        permissions = handler_permissions(resource_type) or {"by hand": (by_hand or {}).get(resource_type, [])}
        assert any(permissions.values()), f"{resource_type}: no resource schema; list what CloudFormation calls by hand"
        for handler, actions in permissions.items():
            for action in actions:
                if allowing_statements(documents, action):
                    continue
                if action in NOT_IAM_ACTIONS or _not_needed(action):
                    skipped.add(action)
                else:
                    missing.setdefault(action, []).append(f"{resource_type}.{handler}")
    stale = [p for p in NOT_NEEDED if not any(fnmatch.fnmatchcase(a, p) for a in skipped)]
    if check_stale and stale:
        missing["stale NOT_NEEDED entries"] = stale
    return missing
