"""Monitoring for one stage: dashboard, alarms to one SNS topic, budget, log metrics and saved queries.

Built with cdk-monitoring-constructs' MonitoringFacade, so every alarm gets the same naming
(``download-service-<stage>-...``) and the same SNS action on ALARM and on OK. Pieces, one module each:
`topic` (SNS + KMS), `alarms` (service/ALB segments and alarms, deployment alarms), `logs` (metric filters,
Logs Insights queries), `spend` (AWS Budget).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    MetricFactoryDefaults,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)
from constructs import Construct

from download_service import contract

from ..config import AlarmsConfig, BudgetConfig, TasksConfig
from ..edge import Edge
from ..service import Service
from .logs import ServiceLogs
from .metrics import FIVE_MINUTES, MINUTE
from .segments import add_service_segments
from .spend import Spend
from .topic import AlarmTopic


class Monitoring(Construct):
    """Exposes `topic` (publish anything that should page), `dashboard`, `dashboard_url`, `logs`, `budget`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_name: str,
        alarms: AlarmsConfig,
        budget: BudgetConfig,
        tasks: TasksConfig,
        service: Service,
        edge: Edge,
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = f"{contract.SERVICE_NAME}-{stage_name}"
        self.alarm_topic = AlarmTopic(self, "Alarms", stage_name=stage_name, email=alarms.email)
        self.topic = self.alarm_topic.topic

        self.dashboards = DefaultDashboardFactory(
            self,
            "Dashboards",
            dashboard_name_prefix=self.prefix,
            create_dashboard=True,
            create_summary_dashboard=False,
            create_alarm_dashboard=False,
        )
        self.facade = MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=AlarmFactoryDefaults(
                alarm_name_prefix=self.prefix,
                actions_enabled=True,
                action=SnsAlarmActionStrategy(on_alarm_topic=self.topic, on_ok_topic=self.topic),
            ),
            metric_factory_defaults=MetricFactoryDefaults(period=MINUTE),
            dashboard_factory=self.dashboards,
        )
        add_service_segments(
            self.facade,
            alarms=alarms,
            tasks=tasks,
            prefix=self.prefix,
            service=service.service,
            load_balancer=edge.load_balancer,
            target_group=edge.target_group,
        )

        self.logs = ServiceLogs(self, "Logs", stage_name=stage_name, log_group=service.log_group)
        log_metrics = [self.logs.metric(name) for name in ("Http5xx", "Exceptions", "S3Errors", "Busy", "WorkerBoots")]
        self.facade.monitor_custom(
            human_readable_name="Service logs",
            alarm_friendly_name="Logs",
            metric_groups=[
                CustomMetricGroup(
                    title="Errors in the service log",
                    metrics=[
                        CustomMetricWithAlarm(
                            alarm_friendly_name="Error-Logs",
                            metric=self.logs.metric("ErrorLogs").with_(period=FIVE_MINUTES),
                            add_alarm={
                                "Critical": CustomThreshold(
                                    threshold=alarms.error_logs,
                                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                                    evaluation_periods=1,
                                    datapoints_to_alarm=1,
                                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                                    additional_description="Lines at level error or critical in 5 minutes",
                                )
                            },
                        )
                    ],
                ),
                CustomMetricGroup(title="Log events", metrics=log_metrics),
            ],
        )
        self.facade.monitor_log(
            log_group_name=service.log_group.log_group_name,
            human_readable_name="Recent errors",
            alarm_friendly_name="RecentErrors",
            title="Recent errors and exceptions",
            filter_expressions=['level in ["error", "critical"] or ispresent(exception)'],
            limit=20,
        )
        # EstimatedCharges exists only in us-east-1: the library's widgets read it there, whatever the stage's region.
        # Alerting on spend is the Budget's job (Spend), which works from any region.
        self.facade.monitor_billing(human_readable_name="AWS estimated charges (us-east-1, whole account)")

        self.spend = Spend(self, "Spend", stage_name=stage_name, config=budget, topic=self.topic)
        self.budget = self.spend.budget
        if self.budget is not None:
            # Budgets checks at creation that it may publish to the topic.
            self.budget.node.add_dependency(self.alarm_topic)

        self.dashboard: cloudwatch.Dashboard = self.dashboards.dashboard
        region = Stack.of(self).region
        self.dashboard_url = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{self.prefix}"
        )
