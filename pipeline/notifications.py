"""The pipeline's own notification topic: approvals waiting, pipeline failed. Separate from each stage's alarm
topic (monitoring), so the pipeline never depends on a stage it deploys."""

from __future__ import annotations

from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

#: CodeStar notification events sent to the topic. "Approval needed" is not among them: the approval action
#: publishes that message itself, with the previous stage's URL and the approve link (one e-mail, not two).
EVENTS = (
    codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
    codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_FAILED,
)


class PipelineNotifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(self, "Key", description="download-service pipeline notifications", enable_key_rotation=True)
        # CodeStar Notifications publishes to the encrypted topic with its own service principal.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CodeStarNotificationsPublish",
                principals=[iam.ServicePrincipal("codestar-notifications.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="download-service pipeline",
            master_key=self.key,
            enforce_ssl=True,
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def watch(self, pipeline: codepipeline.IPipeline) -> None:
        """Send the pipeline's failure events to the topic (a CodeStar notification rule)."""
        pipeline.notify_on(
            "Notify",
            target=self.topic,
            events=list(EVENTS),
        )
