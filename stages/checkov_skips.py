"""Every checkov finding a stage keeps on purpose, skipped on its resource with the reason (the stages' counterpart
of pipeline/nag_acks.py). Log groups carry their own skip (common/retention.py); CDK's framework functions get theirs
and a retained log group from common/framework.py.

`apply` runs once the stage is complete. tests/infra/test_checkov.py proves that each skip still answers a finding
that checkov reports without it, and that nothing else fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import checkov, framework
from .common.retention import LOG_GROUP_KMS_REASON, stage_log_group
from .service import NO_CONTAINER_INSIGHTS

if TYPE_CHECKING:
    from .stage import ServiceStage

#: An ALB listener without TLS: CKV_AWS_2 (protocol HTTPS) and CKV_AWS_103 (TLS 1.2 or later).
HTTP_CHECKS = ("CKV_AWS_2", "CKV_AWS_103")
PLAIN_HTTP = (
    "This stage has no domain_name, so it is served over plain HTTP on the ALB's name by configuration: synth warns "
    "(download-service:http-only) and config validation refuses it for a production stage."
)
TEST_LISTENER_HTTP = (
    "The release hook's test listener on a stage without a domain (no certificate to serve): it refuses everything "
    "but its test rule, which stays locked (source 192.0.2.0/32 plus a header) except while the hook checks a new "
    "revision with a fresh token."
)
PROBE_ARTIFACTS = {
    "CKV_AWS_21": "Synthetics run artifacts (the probe's logs and reports), written under new keys every run and "
    "expired after 30 days; no object is ever overwritten, so versions would hold nothing.",
}
RELEASE_HOOK = {
    "CKV_AWS_115": "ECS invokes the release hook once per lifecycle stage of a deployment. Reserved concurrency "
    "would be taken from the account's unreserved pool, of which Lambda keeps 100 back: in an account at a low "
    "concurrency quota the reservation, and so the deployment, fails.",
    "CKV_AWS_116": "ECS calls the hook and acts on its answer (SUCCEEDED, FAILED, IN_PROGRESS); an invocation that "
    "errs fails the deployment, which rolls back. No event is queued for a later replay.",
    "CKV_AWS_117": "Outside the VPC by design: it calls the ELB API (ModifyRule on the test rule) and the "
    "internet-facing test listener, and the NAT-less VPC has neither an ELB endpoint nor a route to the internet.",
    "CKV_AWS_173": "Its environment holds the test URL, the test rule's ARN and the canary object's key and SHA-256, "
    "no secret; Lambda encrypts environment variables at rest with its service key either way.",
}
OPEN_HTTP = {
    "CKV_AWS_260": "The internet-facing ALB of a public download service: port 80 answers only the redirect to "
    "HTTPS where the stage has a domain, and serves the stage over plain HTTP (by configuration) where it has none.",
}


def apply(stage: ServiceStage) -> None:
    stateless = stage.stateless
    edge = stateless.edge
    checkov.skip_all(stage.stateful.log_bucket, checkov.ACCESS_LOG_BUCKET)
    checkov.skip_all(stateless.probe.artifacts, PROBE_ARTIFACTS)
    checkov.skip_all(edge.security_group, OPEN_HTTP)
    if edge.https_listener is None:
        checkov.skip_all(edge.http_listener, dict.fromkeys(HTTP_CHECKS, PLAIN_HTTP))
    if edge.routing is not None and edge.certificate is None:
        checkov.skip_all(edge.routing.test_listener, dict.fromkeys(HTTP_CHECKS, TEST_LISTENER_HTTP))
    if stateless.release_hook is not None:
        checkov.skip_all(stateless.release_hook.function, RELEASE_HOOK)
    if not stage.config.tasks.container_insights:
        checkov.skip(stateless.service.cluster, "CKV_AWS_65", NO_CONTAINER_INSIGHTS)
    if stateless.waf is not None:  # its group is named aws-waf-logs-* (WAF's rule), so not a stage_log_group
        checkov.skip(stateless.waf.log_group, "CKV_AWS_158", LOG_GROUP_KMS_REASON)
    for stack in (stage.stateful, stateless):
        framework.govern(stack, lambda scope, construct_id: stage_log_group(scope, construct_id, stage.config.logs))
