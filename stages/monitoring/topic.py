"""The stage's one notification topic: alarms (ALARM and OK), budget alerts, and whatever else should page."""

from __future__ import annotations

from typing import ClassVar

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from download_service import contract


class AlarmTopic(Construct):
    """An SNS topic encrypted with its own KMS key, SSL-only, that CloudWatch alarms and AWS Budgets of this
    account (and only this account) may publish to; e-mails `email` when set.

    A customer-managed key, not alias/aws/sns: the AWS-managed key's policy cannot be edited, so neither CloudWatch
    nor Budgets could encrypt a message for the topic and every notification would silently fail.
    """

    #: Service principals that publish to the topic, and the ARN pattern of their resources in this account.
    PUBLISHERS: ClassVar[dict[str, str]] = {
        "cloudwatch.amazonaws.com": "arn:{partition}:cloudwatch:{region}:{account}:alarm:*",
        "budgets.amazonaws.com": "arn:{partition}:budgets::{account}:*",
    }

    def __init__(self, scope: Construct, construct_id: str, *, stage_name: str, email: str | None) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"{contract.SERVICE_NAME} {stage_name}: encrypts the alarm topic's messages",
            enable_key_rotation=True,
            # It encrypts messages in flight only: nothing to recover after the topic is gone.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{contract.SERVICE_NAME} {stage_name} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        for service, source_arn in self.PUBLISHERS.items():
            self.allow_publishing(
                service, source_arn.format(partition=stack.partition, region=stack.region, account=stack.account)
            )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def allow_publishing(self, service: str, source_arn: str) -> None:
        """Let `service` publish (and encrypt for the topic) on behalf of `source_arn` resources of this account."""
        account = Stack.of(self).account
        conditions = {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": source_arn}}
        name = service.split(".", 1)[0].capitalize()
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"{name}Publish",
                principals=[iam.ServicePrincipal(service)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=conditions,
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"{name}EncryptForTopic",
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=conditions,
            )
        )
