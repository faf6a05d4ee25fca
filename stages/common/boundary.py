"""The permissions boundary every IAM role of a service stage carries, and the names of the guardrail policies.

The boundary is a customer managed policy created once per stage account from `pipeline/permissions-boundary.json`
(README, one-time set-up), not a CDK resource: a policy the stages deploy themselves could be widened by the very
change it is meant to cap. The CloudFormation execution policies (`pipeline/deploy-policy*.json`) let CloudFormation
create or change a stage role only while it carries this boundary, and deny editing or removing it.

Not `cdk bootstrap --custom-permissions-boundary`: that option bounds the bootstrap's CloudFormation *execution
role* (and with `ApplyPermissionsBoundaryToAllRoles` the other bootstrap roles), i.e. it would cap what CloudFormation
may deploy by what the service's roles may do at run time. The roles the stages create are bounded here instead,
through the Stage's `permissions_boundary` (CDK's `@aws-cdk/core:permissionsBoundary`): every stack in the stage adds
it to every `AWS::IAM::Role`, including the roles of CDK's own custom resource providers (auto-delete-objects,
restrict-default-security-group, AwsCustomResource), which no construct-level API reaches.
"""

from __future__ import annotations

from aws_cdk import PermissionsBoundary

#: The managed policy every stage role is bounded by (one per account, same name everywhere).
BOUNDARY_POLICY_NAME = "download-service-boundary"

#: The CloudFormation execution policies `cdk bootstrap --cloudformation-execution-policies` attaches, one file each
#: under pipeline/ (split because a managed policy holds at most 6,144 characters).
EXECUTION_POLICY_NAMES = ("deploy", "deploy-network", "deploy-compute", "deploy-data")

#: The pipeline's own account (tooling) attaches these instead of, or in a shared account beside, the four above.
PIPELINE_POLICY_NAMES = ("pipeline", "pipeline-delivery")

#: What `ServiceStage` passes to `Stage(permissions_boundary=...)`.
STAGE_BOUNDARY = PermissionsBoundary.from_name(BOUNDARY_POLICY_NAME)


def boundary_arn(account: str, partition: str = "aws") -> str:
    """The boundary's ARN in `account`, as CDK renders it into a stage's roles."""
    return f"arn:{partition}:iam::{account}:policy/{BOUNDARY_POLICY_NAME}"
