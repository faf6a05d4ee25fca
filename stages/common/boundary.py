"""The permissions boundaries every IAM role carries, and the names of the guardrail policies.

The guardrails are customer managed policies that `make bootstrap` creates (or moves to this checkout's version) in
each account from `pipeline/*.json` (pipeline/guardrails.py), not CDK resources: a policy the stacks deployed
themselves could be widened by the very change it is meant to cap.

- `download-service-boundary` bounds every role of a service stage (the Stage's `permissions_boundary`, CDK's
  `@aws-cdk/core:permissionsBoundary`: every stack in the stage adds it to every `AWS::IAM::Role`, including the
  roles of CDK's own custom resource providers, which no construct-level API reaches).
- `download-service-pipeline-boundary` bounds every role of the pipeline stack the same way (the Stack's
  `permissions_boundary`): they need what stage roles must not, e.g. `sts:AssumeRole` on the bootstrap roles.
- `download-service-deploy-boundary` bounds the CDK bootstrap's CloudFormation execution role
  (`cdk bootstrap --custom-permissions-boundary`): it denies creating or changing a role that carries neither of the
  two boundaries above, IAM users and keys, removing a boundary and editing the guardrails, whatever the execution
  policies beside it allow.

No CDK import here: `make bootstrap` reads these names without starting the CDK's Node runtime.
"""

from __future__ import annotations

#: The managed policy every stage role is bounded by (one per account, same name everywhere).
BOUNDARY_POLICY_NAME = "download-service-boundary"
#: The managed policy every role of the pipeline stack is bounded by (the pipeline's account).
PIPELINE_BOUNDARY_POLICY_NAME = "download-service-pipeline-boundary"
#: The boundary of the CloudFormation execution role (`cdk bootstrap --custom-permissions-boundary`), every account.
DEPLOY_BOUNDARY_POLICY_NAME = "download-service-deploy-boundary"

#: The CloudFormation execution policies `cdk bootstrap --cloudformation-execution-policies` attaches, one file each
#: under pipeline/ (split because a managed policy holds at most 6,144 characters, and a role at most 10 of them).
EXECUTION_POLICY_NAMES = ("deploy", "deploy-network", "deploy-edge", "deploy-compute", "deploy-data")

#: The pipeline's own account (tooling) attaches these instead of, or in a shared account beside, the five above.
PIPELINE_POLICY_NAMES = ("pipeline", "pipeline-delivery")


def policy_arn(name: str, account: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:policy/{name}"


def boundary_arn(account: str, partition: str = "aws") -> str:
    """The stage boundary's ARN in `account`, as CDK renders it into a stage's roles."""
    return policy_arn(BOUNDARY_POLICY_NAME, account, partition)
