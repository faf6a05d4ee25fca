"""Everything that can be replaced at will: network, edge, service, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .canary import CANARY_KEY, canary_sha256
from .config import StageConfig, metrics_namespace, probe_name
from .edge import Edge
from .monitoring import Monitoring
from .network import Network
from .probe import Probe
from .release_hook import ReleaseHook
from .service import Service
from .waf import Waf


class StatelessStack(Stack):
    """Network -> Edge -> Service -> Monitoring, wired together; each unit gets only its own config sections.

    Outputs the service URL (the pipeline's smoke step reads it) and the dashboard URL.
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
        self._availability_zones = config.availability_zones
        # By its deterministic name: no cross-stack reference, so the task role policy and the endpoint policy
        # are plain ARNs (and the stateful stack's outputs are never export-locked by this stack).
        files_bucket = s3.Bucket.from_bucket_name(self, "FilesBucket", config.files_bucket_name)
        self.network = Network(self, "Network", config=config.network, logs=config.logs, files_bucket=files_bucket)
        self.edge = Edge(
            self,
            "Edge",
            domain=config.domain,
            deletion_protection=config.protect,
            stage_name=config.name,
            network=self.network,
            log_bucket=log_bucket,
            progressive=config.deployment.progressive,
            config=config.edge,
        )
        self.release_hook = None
        if self.edge.routing is not None:
            self.release_hook = ReleaseHook(
                self,
                "ReleaseHook",
                routing=self.edge.routing,
                logs=config.logs,
                object_key=CANARY_KEY,
                object_sha256=canary_sha256(),
            )
        self.service = Service(
            self,
            "Service",
            tasks=config.tasks,
            settings=config.service,
            logs=config.logs,
            network=self.network,
            files_bucket=files_bucket,
            target_group=self.edge.target_group,
            deployment=config.deployment,
            metrics_namespace=metrics_namespace(config.name),
            tls=bool(config.edge.tls_to_tasks),
            routing=self.edge.routing,
            hook=self.release_hook.function if self.release_hook else None,
        )
        self.network.scope_endpoints(
            repository_arn=self.service.image_asset.repository.repository_arn,
            log_group_arn=self.service.log_group.log_group_arn,
        )
        self.waf = None
        if config.edge.waf:
            self.waf = Waf(
                self,
                "Waf",
                stage_name=config.name,
                config=config.edge,
                logs_config=config.logs,
                load_balancer=self.edge.load_balancer,
            )
        self.service_url_output = CfnOutput(self, "ServiceUrl", value=self.edge.url, description="Service base URL")
        self.probe = Probe(
            self, "Probe", name=probe_name(config.name), url=self.edge.url, log_bucket=log_bucket, config=config.probe
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            stage_name=config.name,
            alarms=config.alarms,
            budget=config.budget,
            tasks=config.tasks,
            deployment=config.deployment,
            service=self.service,
            edge=self.edge,
            probe=self.probe,
            waf=self.waf,
            edge_config=config.edge,
        )
        self.dashboard_url_output = CfnOutput(
            self, "DashboardUrl", value=self.monitoring.dashboard_url, description="CloudWatch dashboard"
        )

    @property
    def availability_zones(self) -> list[str]:
        """The VPC's two AZs, without the AZ context lookup an account-specific stack would otherwise need (synth
        stays offline): cdk.json's `availability_zones` if set, else the account's first two (Fn::GetAZs)."""
        if self._availability_zones:
            return list(self._availability_zones)
        return [Fn.select(index, Fn.get_azs()) for index in range(2)]
