"""The Fargate service: cluster, hardened task definition, least-privilege task role, release strategy, scaling."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Size
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from download_service import contract

from . import release
from .capacity import CPU_TARGET_PERCENT, SLOT_UTILIZATION_TARGET  # the capacity model's (docs/performance.md)
from .common import nag
from .common.retention import stage_log_group
from .config import DeploymentConfig, LogsConfig, ServiceConfig, TasksConfig
from .network import Network
from .release_routing import ReleaseRouting

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The numeric uid:gid the Dockerfile creates (`USER 10001:10001`). Pinned in the task definition too, so a base
#: image or Dockerfile change can never make the task run as root.
CONTAINER_USER = "10001:10001"

NO_CONTAINER_INSIGHTS = (
    "Off by cdk.json (container_insights: a lean non-production stage): monitoring reads the task count from the "
    "target groups' healthy hosts and CPU and memory from AWS/ECS, which need no Container Insights."
)

#: Never hashed into the image asset, whatever .dockerignore says (it allowlists anyway: belt and braces).
ASSET_EXCLUDES = [".venv", "node_modules", "cdk.out", ".git", ".local", "tests", "**/__pycache__"]


class Service(Construct):
    """An ECS cluster and a Fargate service running the repository's Dockerfile in the isolated subnets.

    Registered with `target_group`, which also opens the task security group to the load balancer on
    contract.PORT — and to nothing else. Exposes `service`, `task_definition`, `container`, `log_group`,
    `scaling` and `security_group` for the monitoring construct.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tasks: TasksConfig,
        settings: ServiceConfig,
        logs: LogsConfig,
        network: Network,
        files_bucket: s3.IBucket,
        target_group: elbv2.ApplicationTargetGroup,
        deployment: DeploymentConfig,
        metrics_namespace: str,
        tls: bool = False,
        routing: ReleaseRouting | None = None,
        hook: lambda_.IFunction | None = None,
    ) -> None:
        super().__init__(scope, construct_id)

        insights = ecs.ContainerInsights.ENABLED if tasks.container_insights else ecs.ContainerInsights.DISABLED
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=network.vpc,
            container_insights_v2=insights,
        )
        if tasks.capacity == "spot":
            # On the cluster itself (CreateCluster / PutClusterCapacityProviders), not the separate
            # ClusterCapacityProviderAssociations resource enable_fargate_capacity_providers adds: its handlers also
            # call ecs:DescribeCapacityProviders, which the deploy role's policy does not grant.
            cfn_cluster = self.cluster.node.default_child
            cfn_cluster.capacity_providers = ["FARGATE", "FARGATE_SPOT"]
        if not tasks.container_insights:
            nag.acknowledge(self.cluster, "AwsSolutions-ECS4", NO_CONTAINER_INSIGHTS)
        self.log_group = stage_log_group(self, "Logs", logs)

        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=tasks.cpu,
            memory_limit_mib=tasks.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        # The task role may read the configured prefix and list the bucket (so a missing key is a 404, not a 403),
        # and nothing else. No s3:prefix condition on ListBucket: S3's 404-vs-403 decision for GetObject checks
        # ListBucket without an s3:prefix in the request context, so such a condition would turn 404s into 403s.
        # Only through this stage's S3 gateway endpoint: credentials taken from a task are useless anywhere else.
        through_endpoint = {"StringEquals": {"aws:SourceVpce": network.s3_endpoint.vpc_endpoint_id}}
        self.task_definition.add_to_task_role_policy(
            iam.PolicyStatement(
                sid="ReadFiles",
                actions=["s3:GetObject"],
                resources=[files_bucket.arn_for_objects(f"{settings.files_prefix}*")],
                conditions=through_endpoint,
            )
        )
        self.task_definition.add_to_task_role_policy(
            iam.PolicyStatement(
                sid="ListFiles",
                actions=["s3:ListBucket"],
                resources=[files_bucket.bucket_arn],
                conditions=through_endpoint,
            )
        )
        nag.acknowledge(
            self.task_definition.task_role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{files_bucket.arn_for_objects(settings.files_prefix)}*]",
            "The service serves any object under the configured key prefix; s3:GetObject only, on that prefix only.",
        )

        self.image_asset = ecr_assets.DockerImageAsset(
            self,
            "Image",
            directory=str(REPO_ROOT),
            platform=ecr_assets.Platform.LINUX_AMD64,
            exclude=ASSET_EXCLUDES,
        )
        #: What the release reports (GET /, every access log line): the image asset's content hash, 12 digits.
        self.version = self.image_asset.asset_hash[:12]
        self.container = self.task_definition.add_container(
            "app",
            image=ecs.ContainerImage.from_docker_image_asset(self.image_asset),
            port_mappings=[ecs.PortMapping(container_port=contract.PORT, protocol=ecs.Protocol.TCP)],
            environment={
                "FILES_BUCKET": files_bucket.bucket_name,
                "FILES_PREFIX": settings.files_prefix,
                "LOG_LEVEL": settings.log_level,
                # Tasks are reachable only from the ALB's security group, so every peer is the ALB.
                "FORWARDED_ALLOW_IPS": "*",
                # The image asset's content hash: identifies exactly what runs.
                "APP_VERSION": self.version,
                # Download slots in use, as embedded metrics on stdout: what scaling and the saturation alarm read.
                "METRICS_NAMESPACE": metrics_namespace,
                # HTTPS from the load balancer (edge.tls_to_tasks): the task makes its own key at start, on tmpfs.
                **({"TLS": "self-signed"} if tls else {}),
            },
            user=CONTAINER_USER,
            readonly_root_filesystem=True,
            # gunicorn's graceful_timeout < stop_timeout: in-flight requests finish before SIGKILL.
            stop_timeout=Duration.seconds(contract.ECS_STOP_TIMEOUT_S),
            essential=True,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=contract.SERVICE_NAME,
                log_group=self.log_group,
                # Never block a request on CloudWatch Logs; a full 25 MiB buffer drops lines instead.
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
                max_buffer_size=Size.mebibytes(25),
            ),
        )
        nag.acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "The environment holds only non-secret settings (bucket name, prefix, log level); there are no secrets.",
        )
        # The only writable path besides /dev/shm: a task-scoped ephemeral volume on /tmp.
        self.task_definition.add_volume(name="tmp")
        self.container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))  # noqa: S108  # nosec B108 - a task-scoped volume mounted into the container; the root filesystem is read-only
        nag.acknowledge(
            self.task_definition.obtain_execution_role().node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; image pulls are scoped to the asset repo.",
        )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="Service tasks: ingress from the load balancer only",
            allow_all_outbound=False,
        )
        # Isolated subnets: 443 reaches only the VPC endpoints (interface ENIs and the S3 gateway prefix list).
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to the VPC endpoints")
        network.admit(self.security_group)

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            vpc_subnets=network.task_subnets,
            security_groups=[self.security_group],
            assign_public_ip=False,
            # No desired_count: every deployment would reset it and undo autoscaling. The scalable target's
            # min_capacity (min_tasks) holds the floor.
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=Duration.seconds(60),
            availability_zone_rebalancing=ecs.AvailabilityZoneRebalancing.ENABLED,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_execute_command=False,
            # Spot: ECS sends SIGTERM two minutes before reclaiming a task and starts a replacement; gunicorn drains
            # within ECS_STOP_TIMEOUT_S. https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
            capacity_provider_strategies=(
                [ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=1)]
                if tasks.capacity == "spot"
                else None
            ),
            **release.deployment_props(deployment),
        )
        release.attach(self.service, self.container, target_group, routing, hook)

        self.scaling = self.service.auto_scale_task_count(min_capacity=tasks.min_tasks, max_capacity=tasks.max_tasks)
        self.scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=CPU_TARGET_PERCENT,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
        release.scale_on_requests(self.scaling, tasks, target_group, routing)
        #: Download slots in use over slots a task has (SlotMetric.UTILIZATION, Average over a minute).
        self.slot_utilization = cloudwatch.Metric(
            namespace=metrics_namespace,
            metric_name=contract.SlotMetric.UTILIZATION,
            dimensions_map=contract.SLOT_DIMENSIONS,
            statistic="Average",
            period=Duration.minutes(1),
        )
        # Slow downloads hold slots while CPU and requests stay low: without this a task full of them never scales.
        self.scaling.scale_to_track_custom_metric(
            "Slots",
            metric=self.slot_utilization,
            target_value=SLOT_UTILIZATION_TARGET,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
