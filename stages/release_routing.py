"""The load balancer side of an ECS-native release: two target groups, the production rule and the test listener.

ECS moves traffic by rewriting the weights of two listener rules it is given: the production rule (on the public
listener) and the test rule (on the test listener). Both forward to both target groups, weighted 1/0 in the template;
after the first deployment ECS owns the weights: it rewrites the forward action on every release (green=100 right
after the first one: go-to-k/cdk-real-drift#1730) and does not check the live weights before shifting
(aws/containers-roadmap#2853). A stack update that changes a rule resets it to the template (aws-cdk#36649, open),
which can send production to the idle target group. So nothing in these rules may change with anything but a
deliberate routing change: not the image, the task size, alarms, and not the stage-wide tags either (`pin_tags`).

The test listener is on the same internet-facing ALB (a target group can belong to one load balancer only) and the
hook that uses it runs outside the VPC (the task subnets have no route to the ALB's public addresses), so it is open
to the internet and guarded instead: its default action refuses everything, and its one rule matches only requests
from TEST-NET-1 (192.0.2.0/32, never a real client) carrying a header nobody knows. The hook replaces those
conditions with a fresh token for the seconds its checks take, then locks the rule again (canary/hook.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_elasticloadbalancingv2 as elbv2

from canary.hook import LOCK_CIDR, TOKEN_HEADER
from download_service import contract

#: Test listener ports: HTTPS with the stage's certificate where it has a domain, plain HTTP otherwise.
TEST_PORT_HTTPS = 8443
TEST_PORT_HTTP = 8080
#: What the template puts in the test rule's header condition; the source-ip lock makes it unmatchable anyway.
LOCKED_VALUE = "locked"


def json_response(status: int, error: str) -> elbv2.ListenerAction:
    """A fixed answer in the service's own error shape."""
    return elbv2.ListenerAction.fixed_response(
        status, content_type="application/json", message_body=f'{{"error": "{error}"}}'
    )


def weighted(blue: elbv2.IApplicationTargetGroup, green: elbv2.IApplicationTargetGroup) -> elbv2.ListenerAction:
    """Both target groups on one rule, all traffic to `blue`: the shape ECS requires and then re-weights."""
    return elbv2.ListenerAction.weighted_forward(
        [
            elbv2.WeightedTargetGroup(target_group=blue, weight=1),
            elbv2.WeightedTargetGroup(target_group=green, weight=0),
        ]
    )


#: The only tag of the two rules: what the deploy policy and the permissions boundary require on a listener rule
#: before CloudFormation (OnlyOurLoadBalancer) or ECS's infrastructure role (ShiftTraffic) may modify it.
RULE_TAGS = {"service": contract.SERVICE_NAME}


def pin_tags(rule: elbv2.ApplicationListenerRule) -> None:
    """Render exactly RULE_TAGS on `rule`, whatever Tags.of() adds above it (the stage's `stage` tag, a tag a fork
    adds to its stages): an override is applied after the tag manager, so a new stage-wide tag never updates the
    rule (test_release.py renders both rules byte-identically across such changes)."""
    rule.node.default_child.add_property_override(
        "Tags", [{"Key": key, "Value": value} for key, value in RULE_TAGS.items()]
    )


@dataclass(frozen=True)
class ReleaseRouting:
    """What the service (AlternateTarget, scaling) and the release hook need from the edge."""

    target_groups: tuple[elbv2.ApplicationTargetGroup, elbv2.ApplicationTargetGroup]
    production_rule: elbv2.ApplicationListenerRule
    test_listener: elbv2.ApplicationListener
    test_rule: elbv2.ApplicationListenerRule
    test_url: str


def add_release_routing(
    load_balancer: elbv2.ApplicationLoadBalancer,
    production_listener: elbv2.ApplicationListener,
    target_groups: tuple[elbv2.ApplicationTargetGroup, elbv2.ApplicationTargetGroup],
    *,
    certificate=None,
    ssl_policy: elbv2.SslPolicy | None = None,
    host: str,
) -> ReleaseRouting:
    """The production rule on `production_listener` and a guarded test listener on `load_balancer`."""
    blue, green = target_groups
    production_rule = elbv2.ApplicationListenerRule(
        production_listener,
        "Production",
        listener=production_listener,
        priority=1,
        conditions=[elbv2.ListenerCondition.path_patterns(["*"])],
        action=weighted(blue, green),
    )
    https = certificate is not None
    test_listener = load_balancer.add_listener(
        "Test",
        port=TEST_PORT_HTTPS if https else TEST_PORT_HTTP,
        protocol=elbv2.ApplicationProtocol.HTTPS if https else elbv2.ApplicationProtocol.HTTP,
        certificates=[certificate] if https else None,
        ssl_policy=ssl_policy if https else None,
        open=True,
        default_action=json_response(403, "forbidden"),
    )
    test_rule = elbv2.ApplicationListenerRule(
        test_listener,
        "Release",
        listener=test_listener,
        priority=1,
        conditions=[
            elbv2.ListenerCondition.http_header(TOKEN_HEADER, [LOCKED_VALUE]),
            elbv2.ListenerCondition.source_ips([LOCK_CIDR]),
        ],
        action=weighted(blue, green),
    )
    pin_tags(production_rule)
    pin_tags(test_rule)
    scheme, port = ("https", TEST_PORT_HTTPS) if https else ("http", TEST_PORT_HTTP)
    return ReleaseRouting(
        target_groups=target_groups,
        production_rule=production_rule,
        test_listener=test_listener,
        test_rule=test_rule,
        test_url=f"{scheme}://{host}:{port}",
    )
