"""The public edge: ALB, listeners, target group, and (with a domain) the ACM certificate and Route 53 alias."""

from __future__ import annotations

from aws_cdk import Annotations, Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from download_service import contract

from .common import nag
from .config import DomainConfig, EdgeConfig, load_balancer_name
from .network import Network
from .release_routing import ReleaseRouting, add_release_routing, json_response

#: TLS 1.3 (and 1.2 for older clients) with forward-secret AEAD ciphers only, plus hybrid post-quantum key
#: exchange: ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09.
SSL_POLICY = elbv2.SslPolicy.TLS13_12_RES_PQ


class Edge(Construct):
    """Internet-facing ALB in the public subnets forwarding to `target_group` (IP targets on contract.PORT).

    With `domain.domain_name`: HTTPS on 443 with a DNS-validated certificate, 80 redirects to 443, and an alias
    record. Without: plain HTTP on 80 and a synth warning (config validation refuses this for production).
    `url` is the service's base URL. With `progressive`, a second target group and the release routing
    (`routing`: production rule, guarded test listener; stages/release_routing.py) for ECS-native releases.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain: DomainConfig,
        deletion_protection: bool,
        stage_name: str,
        network: Network,
        log_bucket: s3.IBucket,
        progressive: bool,
        config: EdgeConfig,
    ) -> None:
        super().__init__(scope, construct_id)

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="Load balancer: HTTP/HTTPS from the internet, egress to the service tasks only",
            allow_all_outbound=False,
        )
        nag.acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "Public download endpoint: the internet-facing ALB must accept 80 (redirect) and 443 from anywhere.",
        )

        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=network.vpc,
            vpc_subnets=network.public_subnets,
            load_balancer_name=load_balancer_name(stage_name),
            internet_facing=True,
            security_group=self.security_group,
            drop_invalid_header_fields=True,
            # Below gunicorn's keep-alive (contract.KEEPALIVE_S): the ALB, not gunicorn, closes idle connections.
            idle_timeout=Duration.seconds(contract.ALB_IDLE_TIMEOUT_S),
            deletion_protection=deletion_protection,
        )
        self.load_balancer.log_access_logs(log_bucket, "alb")

        self.tls_to_tasks = bool(config.tls_to_tasks)
        self.target_group = self._target_group("Targets", network)
        #: Where ECS starts each new revision, beside `target_group` (progressive releases only).
        self.alternate_target_group = self._target_group("AlternateTargets", network) if progressive else None
        self.target_groups = tuple(g for g in (self.target_group, self.alternate_target_group) if g is not None)

        if domain.domain_name and domain.hosted_zone:
            self.hosted_zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=domain.hosted_zone.id, zone_name=domain.hosted_zone.name
            )
            # CloudFormation waits until ACM sees the validation record: the zone must already be delegated
            # (README "DNS"), or this resource waits for hours before failing.
            self.certificate = acm.Certificate(
                self,
                "Certificate",
                domain_name=domain.domain_name,
                validation=acm.CertificateValidation.from_dns(self.hosted_zone),
            )
            self.https_listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[self.certificate],
                ssl_policy=SSL_POLICY,
                open=True,
                **self._production_default(),
            )
            self.http_listener = self.load_balancer.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=True,
                default_action=elbv2.ListenerAction.redirect(protocol="HTTPS", port="443", permanent=True),
            )
            self.alias = route53.ARecord(
                self,
                "Alias",
                zone=self.hosted_zone,
                record_name=domain.domain_name,
                target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(self.load_balancer)),
            )
            self.url = f"https://{domain.domain_name}"
        else:
            self.hosted_zone = None
            self.certificate = None
            self.https_listener = None
            self.http_listener = self.load_balancer.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=True,
                **self._production_default(),
            )
            self.url = f"http://{self.load_balancer.load_balancer_dns_name}"
            Annotations.of(self).add_warning_v2(
                "download-service:http-only",
                f"Stage {stage_name!r} has no domain_name: the service is served over plain HTTP on the ALB's "
                "DNS name. Set domain_name and hosted_zone in cdk.json for HTTPS.",
            )
        self.hsts = f"max-age={(config.hsts_max_age_days or 0) * 86400}; includeSubDomains"
        self.routing: ReleaseRouting | None = None
        if self.alternate_target_group is not None:
            self.routing = add_release_routing(
                self.load_balancer,
                self.https_listener or self.http_listener,
                (self.target_group, self.alternate_target_group),
                certificate=self.certificate,
                ssl_policy=SSL_POLICY,
                host=domain.domain_name or self.load_balancer.load_balancer_dns_name,
            )
        test_listener = self.routing.test_listener if self.routing else None
        https = {self.https_listener, test_listener if self.certificate else None} - {None}
        for listener in filter(None, (self.https_listener, self.http_listener, test_listener)):
            attributes = {"routing.http.response.server.enabled": "false"}  # no "Server: awselb/2.0"
            if listener in https:  # HSTS means nothing over plain HTTP: browsers ignore it there
                attributes["routing.http.response.strict_transport_security.header_value"] = self.hsts
            listener.node.default_child.listener_attributes = [
                elbv2.CfnListener.ListenerAttributeProperty(key=key, value=value) for key, value in attributes.items()
            ]

    def _target_group(self, construct_id: str, network: Network) -> elbv2.ApplicationTargetGroup:
        # With TLS to the tasks the ALB speaks HTTPS to them and health-checks over HTTPS; it does not validate
        # target certificates, so the task's own self-signed one is enough (ALB's documented behaviour).
        protocol = elbv2.ApplicationProtocol.HTTPS if self.tls_to_tasks else elbv2.ApplicationProtocol.HTTP
        return elbv2.ApplicationTargetGroup(
            self,
            construct_id,
            vpc=network.vpc,
            target_type=elbv2.TargetType.IP,
            port=contract.PORT,
            protocol=protocol,
            # Time a draining task keeps serving in-flight downloads before ECS sends SIGTERM (see contract).
            deregistration_delay=Duration.seconds(contract.DEREGISTRATION_DELAY_S),
            health_check=elbv2.HealthCheck(
                path=contract.HEALTH_PATH,
                protocol=elbv2.Protocol.HTTPS if self.tls_to_tasks else elbv2.Protocol.HTTP,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )

    def _production_default(self) -> dict:
        """Rolling: the listener forwards to the one target group. Progressive: the production rule (which ECS
        re-weights) answers every path, so the listener's own default is never reached."""
        if self.alternate_target_group is None:
            return {"default_target_groups": [self.target_group]}
        return {"default_action": json_response(404, "not found")}
