"""Spend: a monthly AWS Budget per stage that notifies the alarm topic (works from any region, unlike an alarm on
the us-east-1-only EstimatedCharges metric, which the dashboard only shows)."""

from __future__ import annotations

from aws_cdk import Annotations
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns
from constructs import Construct

from download_service import contract

from ..config import BudgetConfig

#: (notification type, percent of the monthly limit): early warning, limit reached, limit about to be exceeded.
NOTIFICATIONS = (("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100))


class Spend(Construct):
    """AWS::Budgets::Budget (the only L1 here: there is no L2) of `config.monthly_usd` per month."""

    def __init__(
        self, scope: Construct, construct_id: str, *, stage_name: str, config: BudgetConfig, topic: sns.ITopic
    ) -> None:
        super().__init__(scope, construct_id)
        self.budget: budgets.CfnBudget | None = None
        if config.monthly_usd is None:
            Annotations.of(self).add_warning_v2(
                "download-service:no-budget",
                f"Stage {stage_name!r} has no monthly_budget_usd in cdk.json: no spend alerts.",
            )
            return
        cost_filters = {"TagKeyValue": [f"user:stage${stage_name}"]} if config.scope == "stage" else None
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{contract.SERVICE_NAME}-{stage_name}",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=config.monthly_usd, unit="USD"),
                cost_filters=cost_filters,
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[
                        budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
                    ],
                )
                for kind, percent in NOTIFICATIONS
            ],
        )
