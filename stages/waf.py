"""AWS WAF on the load balancer: AWS's managed rules for what a public, unauthenticated download service meets, and a
per-client rate limit. L1 resources: aws-cdk-lib has no L2 for WAFv2.

Rules, in the order WAF evaluates them:
1. Amazon IP reputation list: addresses AWS's threat intelligence has seen attacking; blocked first, cheaply.
2. A rate-based rule per client address (`edge.waf_rate_limit` requests in 5 minutes): 429 with Retry-After.
3. Core rule set (Common), with the overrides below, each with why.
4. Known bad inputs (Log4j/JNDI lookups, Java deserialization, localhost Host headers...).

Every request is logged to `aws-waf-logs-<service>-<stage>` (the prefix WAF requires), kept for the stage's log
retention, with the release hook's token header redacted.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from canary.hook import TOKEN_HEADER
from download_service import contract

from .common.retention import removal_policy, retention_days
from .config import EdgeConfig, LogsConfig

W = wafv2.CfnWebACL
RATE_WINDOW_S = 300
RETRY_AFTER_S = 300

#: Core rule set rules a download service must not block, each set to COUNT (still logged and counted).
COMMON_OVERRIDES = {
    # S3 keys are up to 1024 bytes and arrive percent-encoded (up to three times longer), after /files/: the rule
    # blocks any URI path over 1024 bytes. The service itself refuses keys S3 would refuse, with a precise 400.
    "SizeRestrictions_URIPATH": "keys up to S3's 1024 bytes, percent-encoded, exceed the rule's 1024-byte path",
}


def web_acl_name(stage_name: str) -> str:
    return f"{contract.SERVICE_NAME}-{stage_name}"


def _visibility(metric_name: str) -> W.VisibilityConfigProperty:
    return W.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed(name: str, group: str, priority: int, overrides: dict[str, str] | None = None) -> W.RuleProperty:
    return W.RuleProperty(
        name=name,
        priority=priority,
        override_action=W.OverrideActionProperty(none={}),
        statement=W.StatementProperty(
            managed_rule_group_statement=W.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=group,
                rule_action_overrides=[
                    W.RuleActionOverrideProperty(name=rule, action_to_use=W.RuleActionProperty(count={}))
                    for rule in (overrides or {})
                ]
                or None,
            )
        ),
        visibility_config=_visibility(name),
    )


def _rate_limit(limit: int, priority: int) -> W.RuleProperty:
    return W.RuleProperty(
        name="RatePerClient",
        priority=priority,
        action=W.RuleActionProperty(
            block=W.BlockActionProperty(
                custom_response=W.CustomResponseProperty(
                    response_code=429,
                    response_headers=[W.CustomHTTPHeaderProperty(name="Retry-After", value=str(RETRY_AFTER_S))],
                )
            )
        ),
        statement=W.StatementProperty(
            rate_based_statement=W.RateBasedStatementProperty(
                limit=limit, aggregate_key_type="IP", evaluation_window_sec=RATE_WINDOW_S
            )
        ),
        visibility_config=_visibility("RatePerClient"),
    )


class Waf(Construct):
    """A regional web ACL (default: allow) associated with `load_balancer`, logged. `web_acl_name` names its
    metrics' WebACL dimension; `rule_names` the Rule dimension of each rule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_name: str,
        config: EdgeConfig,
        logs_config: LogsConfig,
        load_balancer: elbv2.ApplicationLoadBalancer,
    ) -> None:
        super().__init__(scope, construct_id)
        self.web_acl_name = web_acl_name(stage_name)
        rules = [
            _managed("IpReputation", "AWSManagedRulesAmazonIpReputationList", 0),
            _rate_limit(config.waf_rate_limit, 1),
            _managed("Common", "AWSManagedRulesCommonRuleSet", 2, COMMON_OVERRIDES),
            _managed("KnownBadInputs", "AWSManagedRulesKnownBadInputsRuleSet", 3),
        ]
        self.rule_names = [rule.name for rule in rules]
        self.web_acl = W(
            self,
            "WebAcl",
            name=self.web_acl_name,
            scope="REGIONAL",
            default_action=W.DefaultActionProperty(allow={}),
            visibility_config=_visibility(self.web_acl_name),
            rules=rules,
        )
        wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=load_balancer.load_balancer_arn, web_acl_arn=self.web_acl.attr_arn
        )
        log_group_name = f"aws-waf-logs-{self.web_acl_name}"
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name,
            retention=retention_days(logs_config.retention_days),
            removal_policy=removal_policy(logs_config.retain),
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            # WAF wants the log group's ARN without the ":*" CloudFormation's Arn attribute ends with.
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            # The release hook's per-deployment token reaches the ALB through the test listener.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": TOKEN_HEADER.lower()})
            ],
        )
        self.logging.node.add_dependency(self.log_group)
