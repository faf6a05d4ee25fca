"""Pull-request validation: a CodeBuild project that runs buildspec.yml on every PR and reports the result on the
PR as a commit status. It reads GitHub through the same CodeConnections connection as the pipeline (no token)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from constructs import Construct

from .config import PipelineConfig

#: What CodeBuild needs to clone through a connection and to create the webhook (both service prefixes: the
#: connection ARN's service name decides which one IAM evaluates).
CONNECTION_ACTIONS = [
    "codeconnections:GetConnection",
    "codeconnections:GetConnectionToken",
    "codeconnections:UseConnection",
    "codestar-connections:GetConnection",
    "codestar-connections:GetConnectionToken",
    "codestar-connections:UseConnection",
]


#: GitHub repository roles whose pull requests build at once and whose comment approves anyone else's.
PR_APPROVER_ROLES = ("GITHUB_WRITE", "GITHUB_MAINTAIN", "GITHUB_ADMIN")

#: The commit status CodeBuild posts on a pull request: the check the branch ruleset requires by this exact name
#: (.github/rulesets/protect-main.json). CodeBuild's default names the generated project, unknown before deploy.
STATUS_CONTEXT = "download-service/pull-request"


class PullRequestValidation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        environment: codebuild.BuildEnvironment,
        encryption_key=None,
        logging: codebuild.LoggingOptions | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        source = codebuild.Source.git_hub(
            owner=config.owner,
            repo=config.repo,
            webhook=True,
            report_build_status=True,
            build_status_context=STATUS_CONTEXT,
            webhook_filters=[
                codebuild.FilterGroup.in_event_of(
                    codebuild.EventAction.PULL_REQUEST_CREATED,
                    codebuild.EventAction.PULL_REQUEST_UPDATED,
                    codebuild.EventAction.PULL_REQUEST_REOPENED,
                ).and_base_branch_is(config.branch)
            ],
        )
        self.project = codebuild.Project(
            self,
            "Project",
            description=f"Runs buildspec.yml on pull requests to {config.repository}:{config.branch}",
            source=source,
            # No build_spec: CodeBuild reads buildspec.yml from the pull request's own checkout.
            environment=environment,
            timeout=Duration.minutes(60),
            encryption_key=encryption_key,
            logging=logging,
        )
        # The L2 GitHub source knows only account-wide OAuth/token credentials; point it at the connection instead.
        cfn = self.project.node.default_child
        cfn.add_property_override("Source.Auth", {"Type": "CODECONNECTIONS", "Resource": config.connection_arn})
        # A pull request runs its own buildspec.yml with this project's role: on a public fork, anyone could open
        # one. Builds start by themselves only for people who can push; anyone else's waits for such a person's
        # approval comment on the pull request.
        cfn.add_property_override(
            "Triggers.PullRequestBuildPolicy",
            {"RequiresCommentApproval": "ALL_PULL_REQUESTS", "ApproverRoles": list(PR_APPROVER_ROLES)},
        )
        # CodeBuild checks, when CloudFormation creates the project, that its role may use the connection. The role's
        # default policy refers to the project (its log group) and so comes after it: the connection grant is a
        # policy of its own that the project waits for (aws-cdk#38504; "Access denied to connection", aws-cdk#31726).
        self.connection_access = iam.Policy(
            self,
            "ConnectionAccess",
            statements=[
                iam.PolicyStatement(sid="UseConnection", actions=CONNECTION_ACTIONS, resources=[config.connection_arn])
            ],
            roles=[self.project.role],
        )
        cfn.add_dependency(self.connection_access.node.default_child)
