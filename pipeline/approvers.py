"""Who may approve a promotion: one customer-managed policy, attached by hand to the approvers' IAM group.

The policy is the only thing in this app that grants `codepipeline:PutApprovalResult`, and only on the pipeline's
approval actions (`arn:<partition>:codepipeline:<region>:<account>:<pipeline>/<stage>/<action>`); the approvers
may read the pipeline (its structure and state: GetPipelineState returns the approval token) and nothing else.
The stack attaches it to nobody: who approves is decided in IAM, outside the code the pipeline deploys.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from constructs import Construct


def approval_actions(pipeline: codepipeline.Pipeline) -> list[tuple[str, str]]:
    """(stage name, action name) of every manual approval in the pipeline, in order."""
    return [
        (stage.stage_name, action.action_properties.action_name)
        for stage in pipeline.stages
        for action in stage.actions
        if action.action_properties.category == codepipeline.ActionCategory.APPROVAL
    ]


class ApproversPolicy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, pipeline: codepipeline.Pipeline) -> None:
        super().__init__(scope, construct_id)
        approvals = approval_actions(pipeline)
        if not approvals:
            raise ValueError("the pipeline has no approval action: there is nothing to approve")
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=f"{Stack.of(self).stack_name}-approvers",
            description="Approve or reject the download-service pipeline's promotions (attach to the approvers)",
            statements=[
                iam.PolicyStatement(
                    sid="ApproveOrRejectPromotions",
                    actions=["codepipeline:PutApprovalResult"],
                    resources=[f"{pipeline.pipeline_arn}/{stage}/{action}" for stage, action in approvals],
                ),
                iam.PolicyStatement(
                    sid="ReadThePipeline",
                    actions=["codepipeline:GetPipeline", "codepipeline:GetPipelineState"],
                    resources=[pipeline.pipeline_arn],
                ),
            ],
        )
        self.output = CfnOutput(
            scope,
            "ApproversPolicyArn",
            value=self.policy.managed_policy_arn,
            description="Attach to the approvers' IAM group: it alone may approve or reject a promotion",
        )
