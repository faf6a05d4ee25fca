"""One deployable copy of the download service."""

from __future__ import annotations

from aws_cdk import Environment, PermissionsBoundary, Stage, Tags
from constructs import Construct

from download_service import contract

from . import checkov_skips
from .canary import Canary
from .common import keys
from .common.boundary import BOUNDARY_POLICY_NAME
from .config import StageConfig
from .stateful_stack import StatefulStack
from .stateless_stack import StatelessStack


class ServiceStage(Stage):
    """A stateful stack (buckets) and a stateless stack (network, edge, service) in one account/region.

    `service_url_output` and `bucket_name_output` are the CfnOutputs the pipeline's smoke step reads
    (`env_from_cfn_outputs`); `canary` is the object it downloads (key and SHA-256).
    """

    def __init__(self, scope: Construct, config: StageConfig, *, construct_id: str | None = None) -> None:
        super().__init__(
            scope,
            construct_id or config.construct_id,
            env=Environment(account=config.account, region=config.region),
            # every IAM role of both stacks (stages/common/boundary.py)
            permissions_boundary=PermissionsBoundary.from_name(BOUNDARY_POLICY_NAME),
        )
        self.config = config
        self.stateful = StatefulStack(
            self,
            "Stateful",
            bucket_name=config.files_bucket_name,
            files_prefix=config.service.files_prefix,
            production=config.production,
            logs=config.logs,
        )
        self.stateless = StatelessStack(
            self,
            "Stateless",
            config=config,
            log_bucket=self.stateful.log_bucket,
        )
        self.stateless.add_stack_dependency(self.stateful, "the files bucket must exist before the service reads it")
        # In the stateless stack: it writes into the bucket (which must exist) and holds no data of its own.
        self.canary = Canary(
            self.stateless,
            "Canary",
            bucket_name=config.files_bucket_name,
            files_prefix=config.service.files_prefix,
            logs=config.logs,
        )
        # The probe's first run must find a stage that serves (its alarms read its runs): the service stable
        # (CloudFormation waits for that), its DNS name and the canary object in place.
        probe = self.stateless.probe.canary.node.default_child  # the canary itself, not its role and bucket
        probe.node.add_dependency(self.canary, self.stateless.service.service)
        if self.stateless.edge.hosted_zone is not None:
            probe.node.add_dependency(self.stateless.edge.alias)
        self.service_url_output = self.stateless.service_url_output
        self.bucket_name_output = self.stateful.bucket_name_output
        Tags.of(self).add("service", contract.SERVICE_NAME, exclude_resource_types=keys.UNTAGGED)
        Tags.of(self).add("stage", config.name, exclude_resource_types=keys.UNTAGGED)
        for stack in (self.stateful, self.stateless):
            keys.let_cloudformation_manage_keys(stack)
        checkov_skips.apply(self)  # last: it marks resources every construct above has created
