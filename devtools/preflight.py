"""Before a make target calls AWS: cdk.json names real accounts, and AWS credentials resolve. One line if not.

    python -m devtools.preflight deploy-sandbox sandbox   # the target, then the stage it acts on
    python -m devtools.preflight deploy-pipeline          # the pipeline's own account and every stage it deploys

Runs before the 15 s synth the CDK CLI would start, and never calls AWS itself: the credentials are resolved by
botocore's chain (environment, ~/.aws profiles and SSO caches, container or instance roles), not used.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError

from stages.config import CONTEXT_KEY, ConfigError, cdk_json_context

#: The account id AWS's own documentation uses in examples, and cdk.json ships with.
PLACEHOLDER_ACCOUNT = "123456789012"
#: Targets that act on one stage, and those that act on the pipeline.
STAGE_TARGETS = ("deploy-sandbox", "destroy-sandbox")
PIPELINE_TARGETS = ("deploy-pipeline",)


class PreflightError(RuntimeError):
    """What stops the target; the message is one line."""


def account_fields(root: Mapping[str, Any], target: str, stage: str | None) -> dict[str, str]:
    """{cdk.json field: account} that `target` deploys to."""
    stages = root.get("stages") or {}
    defaults = root.get("defaults") or {}

    def stage_account(name: str) -> tuple[str, str]:
        own = stages.get(name) or {}
        if "account" in own:
            return f"stages.{name}.account", str(own["account"])
        return "defaults.account", str(defaults.get("account", ""))

    if target in STAGE_TARGETS:
        if stage not in stages:
            raise PreflightError(f"STAGE={stage!r} is not a stage in cdk.json ({', '.join(stages)})")
        return dict([stage_account(stage)])
    pipeline = root.get("pipeline") or {}
    arn = str(pipeline.get("connection_arn", ""))
    fields = {"pipeline.connection_arn": arn.split(":")[4] if arn.count(":") >= 5 else ""}
    fields.update(stage_account(name) for name in pipeline.get("stages", ()))
    return fields


def no_placeholder(fields: Mapping[str, str]) -> None:
    for field, account in fields.items():
        if account == PLACEHOLDER_ACCOUNT:
            raise PreflightError(
                f"cdk.json: {field}: {PLACEHOLDER_ACCOUNT} is the example account cdk.json ships with: "
                "set your AWS account id"
            )


def credentials_resolve() -> None:
    try:
        found = boto3.session.Session().get_credentials()
    except BotoCoreError as error:  # a profile that does not exist, an unreadable config...
        raise PreflightError(f"AWS credentials: {error}") from None
    if found is None:
        raise PreflightError(
            "no AWS credentials found (environment, ~/.aws, SSO or a role): sign in first "
            "(aws sso login --profile NAME, then export AWS_PROFILE=NAME)"
        )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in STAGE_TARGETS + PIPELINE_TARGETS or len(argv) != 1 + (argv[0] in STAGE_TARGETS):
        print(
            "usage: python -m devtools.preflight deploy-sandbox|destroy-sandbox STAGE | deploy-pipeline",
            file=sys.stderr,
        )
        return 2
    target, stage = argv[0], (argv[1] if len(argv) > 1 else None)
    try:
        no_placeholder(account_fields(cdk_json_context()[CONTEXT_KEY], target, stage))
        credentials_resolve()
    except (PreflightError, ConfigError) as error:
        print(f"make {target}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
