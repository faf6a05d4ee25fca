"""Everything that can be replaced at will: network, edge, service (and, with the monitoring issue, monitoring)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import StageConfig
from .edge import Edge
from .monitoring import Monitoring
from .network import Network
from .service import Service


class StatelessStack(Stack):
    """Network -> Edge -> Service, wired together.

    Seam for monitoring: construct it last, from `self.service` (ECS service, log group, scaling), `self.edge`
    (load balancer, target group) and `self.config` (alarm_email, monthly_budget_usd), e.g.
    ``self.monitoring = Monitoring(self, "Monitoring", config=config, service=self.service, edge=self.edge)``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        log_bucket: s3.IBucket,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        # By its deterministic name: no cross-stack reference, so the task role policy and the endpoint policy
        # are plain ARNs (and the stateful stack's outputs are never export-locked by this stack).
        files_bucket = s3.Bucket.from_bucket_name(self, "FilesBucket", config.files_bucket_name)
        self.network = Network(self, "Network", config=config, files_bucket=files_bucket)
        self.edge = Edge(self, "Edge", config=config, network=self.network, log_bucket=log_bucket)
        self.service = Service(
            self,
            "Service",
            config=config,
            network=self.network,
            files_bucket=files_bucket,
            target_group=self.edge.target_group,
        )
        self.service_url_output = CfnOutput(self, "ServiceUrl", value=self.edge.url, description="Service base URL")
        self.monitoring = Monitoring(self, "Monitoring", config=config, service=self.service, edge=self.edge)
        self.dashboard_url_output = CfnOutput(
            self, "DashboardUrl", value=self.monitoring.dashboard_url, description="CloudWatch dashboard"
        )

    @property
    def availability_zones(self) -> list[str]:
        """The VPC's two AZs, without the AZ context lookup an account-specific stack would otherwise need (synth
        stays offline): cdk.json's `availability_zones` if set, else the account's first two (Fn::GetAZs)."""
        if self.config.availability_zones:
            return list(self.config.availability_zones)
        return [Fn.select(index, Fn.get_azs()) for index in range(2)]
