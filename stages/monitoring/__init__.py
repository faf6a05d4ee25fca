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

from ..config import AlarmsConfig, BudgetConfig, DeploymentConfig, EdgeConfig, TasksConfig
from ..edge import Edge
from ..probe import Probe
from ..service import Service
from ..waf import Waf
from .deployment import deployment_alarm_names, deployment_guards, hand_to_ecs
from .edge import add_load_balancer_segment, add_waf_segment
from .logs import ServiceLogs
from .metrics import FIVE_MINUTES, MINUTE
from .probe import probe_runs
from .segments import add_fargate_segment, add_tasks_segment, add_traffic_segment
from .spend import Spend
from .topic import AlarmTopic


def critical_alarm_name(stage_name: str) -> str:
    """The stage's composite alarm, by a name the pipeline can know without a reference to the stage."""
    return f"{contract.SERVICE_NAME}-{stage_name}-Critical"


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
        deployment: DeploymentConfig,
        service: Service,
        edge: Edge,
        probe: Probe,
        waf: Waf | None,
        edge_config: EdgeConfig,
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
        self.logs = ServiceLogs(self, "Logs", stage_name=stage_name, log_group=service.log_group)
        target_groups = edge.target_groups
        add_fargate_segment(
            self.facade,
            alarms=alarms,
            tasks=tasks,
            service=service.service,
            load_balancer=edge.load_balancer,
            target_group=edge.target_group,
        )
        add_traffic_segment(
            self.facade,
            alarms=alarms,
            load_balancer=edge.load_balancer,
            target_groups=target_groups,
            namespace=self.logs.namespace,
        )
        add_load_balancer_segment(self.facade, alarms=alarms, load_balancer=edge.load_balancer)
        if waf is not None:
            add_waf_segment(
                self.facade, self, web_acl_name=waf.web_acl_name, rule_names=waf.rule_names, config=edge_config
            )
        self.deployment_alarm_names = deployment_alarm_names(self.prefix, deployment)
        add_tasks_segment(
            self.facade,
            tasks=tasks,
            service=service.service,
            target_groups=target_groups,
            slots=service.slot_utilization,
            guards=deployment_guards(
                alarms=alarms,
                deployment=deployment,
                prefix=self.prefix,
                namespace=self.logs.namespace,
                version=service.version,
                load_balancer=edge.load_balancer,
                target_groups=target_groups,
            ),
        )
        log_metrics = [
            self.logs.metric(name)
            for name in ("Http5xx", "Exceptions", "S3Errors", "NotFound", "Busy", "ClientLimit", "WorkerBoots")
        ]
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

        self.facade.monitor_custom(
            human_readable_name=f"Synthetic probe (/health and the canary object, every {probe.every.to_minutes()} "
            "minutes)",
            alarm_friendly_name="Probe",
            metric_groups=[probe_runs(probe)],
        )

        created = {found.alarm_name: found.alarm for found in self.facade.created_alarms()}
        for name in self.deployment_alarm_names:
            # A release's guard judges its own version: CloudFormation must point the alarm at it before ECS starts.
            service.service.node.add_dependency(created[name])
        hand_to_ecs(self, service.service, self.deployment_alarm_names, deployment, stage_name)
        #: One alarm for "this stage is in trouble" (any Critical alarm): the pipeline's gate before prod reads it.
        self.critical_alarm = cloudwatch.CompositeAlarm(
            self,
            "Critical",
            composite_alarm_name=critical_alarm_name(stage_name),
            alarm_description="Any critical alarm of the stage; the pipeline does not start a production release "
            "while this (or dev's) is in ALARM",
            alarm_rule=cloudwatch.AlarmRule.any_of(
                *(alarm for name, alarm in sorted(created.items()) if name.endswith("-Critical"))
            ),
        )

        self.dashboard: cloudwatch.Dashboard = self.dashboards.dashboard
        region = Stack.of(self).region
        self.dashboard_url = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{self.prefix}"
        )
