"""A manual approval that links the previous stage's service URL and notifies an SNS topic.

`pipelines.ManualApprovalStep` can notify a topic, but its `review_url` cannot refer to another stage's
CloudFormation output (a cross-stage reference). This step declares the output it consumes, so CDK Pipelines
gives the producing deploy action a variables namespace, and renders the link as a CodePipeline variable
(``#{<namespace>.ServiceUrl}``) resolved when the approval starts.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import CfnOutput, pipelines
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_sns as sns


@jsii.implements(pipelines.ICodePipelineActionFactory)
class LinkedApprovalStep(pipelines.Step):
    def __init__(self, step_id: str, *, review_output: CfnOutput, topic: sns.ITopic, comment: str) -> None:
        super().__init__(step_id)
        self.review = pipelines.StackOutputReference.from_cfn_output(review_output)
        self.topic = topic
        self.comment = comment

    @property
    def consumed_stack_outputs(self) -> list[pipelines.StackOutputReference]:
        return [self.review]

    def produce_action(
        self,
        stage: Any,
        *,
        action_name: str,
        run_order: int,
        stack_outputs_map: pipelines.StackOutputsMap,
        **_options: Any,
    ) -> pipelines.CodePipelineActionFactoryResult:
        url = stack_outputs_map.to_code_pipeline(self.review)
        stage.add_action(
            actions.ManualApprovalAction(
                action_name=action_name,
                run_order=run_order,
                notification_topic=self.topic,
                external_entity_link=url,
                additional_information=f"{self.comment} Review: {url}",
            )
        )
        return pipelines.CodePipelineActionFactoryResult(run_orders_consumed=1)
