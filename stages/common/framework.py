"""CDK's own Lambda functions in a stack (custom resource providers): a retained log group each, and the checkov
findings on code we do not write, skipped with the reason.

Core's CustomResourceProvider (S3 auto-delete, the VPC's default security group) renders a bare
AWS::Lambda::Function without LoggingConfig: Lambda would create /aws/lambda/<name> on the first invocation and keep
it forever. `govern` gives each such function a log group of its own (LoggingConfig.LogGroup), so CloudFormation
creates the group, with a retention, before the function. The AwsCustomResource singleton already logs where its
caller says (stages/canary.py); it only gets the skips.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import CfnResource, Stack, Stage
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from . import checkov

#: The construct id prefix of AwsCustomResource's singleton function (its fixed UUID in aws-cdk-lib).
AWS_CUSTOM_RESOURCE_ID = "AWS679f53fac002430cb0da5b7982bd2287"

#: Why checkov's Lambda findings do not apply to a function that only CloudFormation invokes during a deployment.
REASONS = {
    "CKV_AWS_115": "CDK framework function invoked only by CloudFormation, once per custom resource event of a "
    "deployment. Reserved concurrency would be taken from the account's unreserved pool, of which Lambda "
    "keeps 100 back: in an account at a low concurrency quota the reservation, and so the deployment, fails.",
    "CKV_AWS_116": "CDK framework function invoked only by CloudFormation: a failed event fails the stack "
    "operation, which CloudFormation reports and rolls back; a dead-letter queue would keep events nobody replays.",
    "CKV_AWS_117": "CDK framework function that only calls AWS APIs (S3, EC2) during a deployment and serves no "
    "traffic; the stages' VPCs have no NAT and their endpoints admit only the service's own calls (the pipeline has "
    "no VPC), so it runs outside a VPC, as CDK builds it.",
}

LogGroupFactory = Callable[[Construct, str], logs.LogGroup]


def own_constructs(stack: Stack) -> list[IConstruct]:
    """The stack's constructs, without stages nested in it (their stacks govern themselves)."""
    found: list[IConstruct] = []
    pending = list(stack.node.children)
    while pending:
        construct = pending.pop()
        if isinstance(construct, Stage | Stack):
            continue
        found.append(construct)
        pending.extend(construct.node.children)
    return found


def _is_function(construct: IConstruct) -> bool:
    return isinstance(construct, CfnResource) and construct.cfn_resource_type == "AWS::Lambda::Function"


def provider_handlers(stack: Stack) -> list[CfnResource]:
    """CustomResourceProvider handlers: Lambda functions rendered as a plain CfnResource (not lambda.CfnFunction)."""
    return [c for c in own_constructs(stack) if _is_function(c) and not isinstance(c, lambda_.CfnFunction)]


def aws_custom_resource_functions(stack: Stack) -> list[CfnResource]:
    return [
        c.node.default_child
        for c in stack.node.children
        if c.node.id.startswith(AWS_CUSTOM_RESOURCE_ID) and _is_function(c.node.default_child)
    ]


def govern(stack: Stack, log_group: LogGroupFactory) -> None:
    """Call once the stack is complete: every framework function logs to a retained group and carries its skips."""
    for handler in provider_handlers(stack):
        group = log_group(handler.node.scope, "Logs")
        handler.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
        checkov.skip_all(handler, REASONS)
    for function in aws_custom_resource_functions(stack):
        checkov.skip_all(function, REASONS)
