"""Every KMS key names, in its own key policy, the role CloudFormation deploys it with.

KMS refuses `CreateKey` when the new key policy would not let the caller call `PutKeyPolicy` later ("The key
policy must allow the calling principal to make a subsequent PutKeyPolicy request on the KMS key", CreateKey's
`BypassPolicyLockoutSafetyCheck`: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html). With
only the default statement (the account root, which delegates to IAM), that check runs on the caller's IAM policies
against a key that does not exist yet, so an IAM allow conditioned on the key's tags cannot pass it (seen in
aws-solutions/innovation-sandbox-on-aws issues 31 and 117). A statement naming the CloudFormation execution role
passes it by the key policy alone, for that key only, and lets CloudFormation manage the key afterwards without any
KMS key-management permission in the execution policies: they allow `kms:CreateKey` and nothing on existing keys,
so no template can change another key of the account (its policy does not name our role).

The keys are not tagged: a tag at creation needs `kms:TagResource` in an IAM policy covering every key of the
account and region ("the permission must cover all KMS keys in the account and Region":
https://docs.aws.amazon.com/kms/latest/developerguide/manage-tags-api.html), which would let a template tag, and so
claim for any tag-conditioned policy, every other key. `UNTAGGED` is what the stages and the pipeline exclude from
their stack-wide tags.
"""

from __future__ import annotations

from aws_cdk import DefaultStackSynthesizer, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from .framework import own_constructs

#: What CloudFormation's AWS::KMS::Key handlers call on an existing key (the resource schema's create, update,
#: delete and read permissions, without kms:CreateKey); tests/infra/test_first_deploy.py compares it with the schema.
KEY_MANAGEMENT = (
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
)
STATEMENT_ID = "CloudFormationManagesThisKey"
#: Resource types kept out of stack-wide tags (see the module docstring).
UNTAGGED = ["AWS::KMS::Key"]


def deploying_role_arn(stack: Stack) -> str:
    """The CloudFormation execution role the stack is deployed with (the CDK bootstrap's `cfn-exec-role`)."""
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, DefaultStackSynthesizer):
        raise TypeError(f"{stack.stack_name}: keys need the default synthesizer to know the deploying role")
    # The synthesizer's ARN carries ${AWS::Partition} for CloudFormation to fill in.
    return Fn.sub(synthesizer.cloud_formation_execution_role_arn)


def let_cloudformation_manage_keys(stack: Stack) -> None:
    """Call once the stack is complete: every key of the stack names the deploying role in its key policy."""
    for key in (c for c in own_constructs(stack) if isinstance(c, kms.Key)):
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=STATEMENT_ID,
                principals=[iam.ArnPrincipal(deploying_role_arn(stack))],
                actions=list(KEY_MANAGEMENT),
                resources=["*"],
            )
        )
