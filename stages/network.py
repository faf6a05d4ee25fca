"""The NAT-less VPC: public subnets for the ALB, isolated subnets for the tasks, VPC endpoints for what they need."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .common.retention import stage_log_group
from .config import LogsConfig, NetworkConfig

#: Interface endpoints the tasks need: pull the image (ecr.api + ecr.dkr) and ship logs. Nothing else: S3 goes
#: through the free gateway endpoint, and each interface endpoint costs per AZ-hour.
INTERFACE_ENDPOINTS = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
}


def ecr_layer_bucket_arn(region: str) -> str:
    """ECR stores image layers in this AWS-owned bucket; Fargate downloads them through the S3 gateway endpoint."""
    return f"arn:aws:s3:::prod-{region}-starport-layer-bucket"


class Network(Construct):
    """VPC over the configured 2 AZs, no NAT gateway, flow logs, S3 gateway + ECR/Logs interface endpoints (in
    `config.endpoint_azs` of the AZs).

    The interface endpoints admit HTTPS only from security groups passed to `admit`; the S3 gateway endpoint's
    policy allows reads of the files bucket and the ECR layer bucket and nothing else.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: NetworkConfig,
        logs: LogsConfig,
        files_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region

        self.flow_log_group = stage_log_group(self, "FlowLogs", logs)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            max_azs=2,  # the stack's availability_zones (see StatelessStack)
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="Tasks", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            restrict_default_security_group=True,
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        self.task_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.public_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)

        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.task_subnets]
        )
        self.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="EcrImageLayers",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[f"{ecr_layer_bucket_arn(region)}/*"],
            )
        )
        self.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="FilesBucketRead",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:ListBucket"],
                resources=[files_bucket.bucket_arn, files_bucket.arn_for_objects("*")],
            )
        )

        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="VPC interface endpoints: HTTPS from the service tasks only",
            allow_all_outbound=False,
        )
        # In `endpoint_azs` of the two AZs: private DNS answers with the interfaces that exist, so a task in the
        # other AZ reaches them across the zone boundary (https://docs.aws.amazon.com/vpc/latest/privatelink/
        # privatelink-access-aws-services.html: "we recommend ... one subnet per Availability Zone" for resilience).
        endpoint_subnets = ec2.SubnetSelection(subnets=self.vpc.isolated_subnets[: config.endpoint_azs])
        self.interface_endpoints = {
            name: self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=endpoint_subnets,
                private_dns_enabled=True,
                open=False,
                security_groups=[self.endpoint_security_group],
            )
            for name, service in INTERFACE_ENDPOINTS.items()
        }

    def admit(self, peer: ec2.IConnectable) -> None:
        """Let `peer` (the task security group) reach the interface endpoints on 443."""
        self.endpoint_security_group.connections.allow_from(peer, ec2.Port.tcp(443), "HTTPS from the service tasks")

    def scope_endpoints(self, *, repository_arn: str, log_group_arn: str) -> None:
        """Endpoint policies as a second wall behind the roles: through these endpoints a principal of this account
        may pull images of the asset repository and write to the service's log group, and do nothing else."""
        account = {"StringEquals": {"aws:PrincipalAccount": Stack.of(self).account}}
        pull = [
            iam.PolicyStatement(
                sid="PullTheServiceImage",
                principals=[iam.AnyPrincipal()],
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[repository_arn],
                conditions=account,
            ),
            iam.PolicyStatement(
                sid="RegistryLogin",  # GetAuthorizationToken has no resource-level permissions
                principals=[iam.AnyPrincipal()],
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
                conditions=account,
            ),
        ]
        for name in ("EcrApi", "EcrDocker"):
            for statement in pull:
                self.interface_endpoints[name].add_to_policy(statement)
        self.interface_endpoints["Logs"].add_to_policy(
            iam.PolicyStatement(
                sid="ShipTheServiceLogs",
                principals=[iam.AnyPrincipal()],
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group_arn],
                conditions=account,
            )
        )
