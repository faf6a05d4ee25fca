"""`make bootstrap` (devtools/bootstrap/__init__.py says what it does). Exit 0 when every account is set up, 2 with
one line naming what stopped it: a wrong cdk.json or argument, missing credentials, a refused call, a failed
`cdk bootstrap`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from app import AppConfig, load
from devtools.template_diff import context_for
from pipeline.guardrails import DEPLOY_BOUNDARY
from stages.common.boundary import policy_arn
from stages.config import CONTEXT_KEY, ConfigError

from .aws import BootstrapError, ClientFactory, describe, dry_clients, real_clients
from .plan import AccountPlan, asset_repository, plan
from .policies import sync_policy
from .registry import gate_statement, merge_repository_policy, merge_scanning

ROOT = Path(__file__).resolve().parents[2]
CDK = ("npx", "--no-install", "cdk")
EXIT_FAILED = 2
#: Runs `cdk <args>` (the pinned CLI) and returns its exit status.
CdkRunner = Callable[[list[str]], int]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bootstrap", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="ACCOUNT=PROFILE",
        help="the AWS profile of each account cdk.json deploys to (one account: just PROFILE)",
    )
    parser.add_argument(
        "--context", type=Path, help="a context file laid over cdk.json's, e.g. examples/three-accounts.json"
    )
    parser.add_argument("--dry-run", action="store_true", help="print every AWS call instead of making it")
    return parser.parse_args(argv)


def _profiles(given: list[str], accounts: list[str], dry_run: bool) -> dict[str, str | None]:
    """Account -> profile (None: the default credential chain)."""
    named = {}
    for item in given:
        account, _, profile = item.rpartition("=")
        if not account and len(accounts) > 1:
            raise BootstrapError(f"cdk.json deploys to {len(accounts)} accounts: give ACCOUNT={item} for each")
        for target in [account] if account else accounts:
            if target not in accounts:
                raise BootstrapError(
                    f"PROFILES names account {target}, which cdk.json does not deploy to ({', '.join(accounts)})"
                )
            named[target] = profile
    missing = [a for a in accounts if a not in named]
    if missing and len(accounts) > 1 and not dry_run:
        example = " ".join(f"{a}=<profile>" for a in accounts)
        raise BootstrapError(
            f'cdk.json deploys to {len(accounts)} accounts: name a profile for each, PROFILES="{example}"'
        )
    return {a: named.get(a) for a in accounts}


def _cdk_bootstrap_args(account_plan: AccountPlan, region: str, partition: str, profile: str | None) -> list[str]:
    account = account_plan.account
    policies = ",".join(policy_arn(g.name, account, partition) for g in account_plan.guardrails.execution)
    return [
        "bootstrap",
        f"aws://{account}/{region}",
        "--cloudformation-execution-policies",
        policies,
        "--custom-permissions-boundary",
        DEPLOY_BOUNDARY.name,
        *(["--trust", account_plan.trust] if account_plan.trust else []),
        *(["--profile", profile] if profile else []),
        "--no-notices",
    ]


def _set_up(
    account_plan: AccountPlan, pipeline_account: str | None, profile: str | None, clients: ClientFactory, cdk: CdkRunner
) -> None:
    """One account, every region; prints what changed (or did not), one line each."""
    account, home = account_plan.account, account_plan.regions[0]
    identity = clients(account, home, "sts").get_caller_identity()
    if identity["Account"] != account:
        who = f"profile {profile}" if profile else "the default credentials"
        raise BootstrapError(f"{who} sign in to account {identity['Account']}, not {account}: check PROFILES")
    partition = identity["Arn"].split(":")[1]
    iam = clients(account, home, "iam")
    for guardrail in account_plan.guardrails.all:  # the boundaries first: the bootstrap names them
        arn = policy_arn(guardrail.name, account, partition)
        document = account_plan.guardrails.document(guardrail)
        result = sync_policy(
            iam, arn, guardrail.name, document, f"download-service guardrail from pipeline/{guardrail.file}"
        )
        print(f"[{account}] policy {guardrail.name}: {result}")
    for region in account_plan.regions:
        args = _cdk_bootstrap_args(account_plan, region, partition, profile)
        status = cdk(args)
        if status != 0:
            raise BootstrapError(f"cdk {' '.join(args[:2])} failed (exit {status}); its output is above")
        repository = asset_repository(account, region)
        if region in account_plan.scanned_regions:
            changed = merge_scanning(clients(account, region, "ecr"), repository)
            print(f"[{account} {region}] scanning of {repository}: {'added' if changed else 'already on'}")
        if region in account_plan.gated_regions and pipeline_account:
            statement = gate_statement(pipeline_account, partition)
            changed = merge_repository_policy(clients(account, region, "ecr"), repository, statement)
            print(f"[{account} {region}] {repository} admits {pipeline_account}: {'added' if changed else 'already'}")


def _connection_pending(config: AppConfig, clients: ClientFactory) -> bool:
    pipeline = config.pipeline
    service = pipeline.connection_arn.split(":")[2]  # codeconnections or codestar-connections
    answer = clients(pipeline.account, pipeline.region, service).get_connection(ConnectionArn=pipeline.connection_arn)
    return answer["Connection"]["ConnectionStatus"] != "AVAILABLE"


def next_steps(config: AppConfig, profiles: dict[str, str | None], pending: bool) -> list[str]:
    """What only a person can do, in order."""
    steps = []
    pipeline = config.pipeline
    if pipeline is None:
        return ["Deploy: make deploy-sandbox STAGE=<stage>"]
    if pending:
        steps.append(
            f"Finish the connection's handshake ({pipeline.connection_arn} is not AVAILABLE): console → Developer "
            f"Tools → Settings → Connections → the connection → Update pending connection, and install the AWS "
            f"Connector for GitHub app on {pipeline.repository}"
        )
    profile = profiles.get(pipeline.account)
    env = f"AWS_PROFILE={profile} " if profile else ""
    steps.append(f"Commit and push cdk.json to {pipeline.branch}, then: {env}make deploy-pipeline")
    if pipeline.notification_email:
        steps.append(f"Confirm the SNS subscription e-mail sent to {pipeline.notification_email}")
    steps.append(
        "Give the approvers the stack output ApproversPolicyArn: "
        "aws iam attach-group-policy --group-name <approvers' group> --policy-arn <ApproversPolicyArn>"
    )
    for stage in config.stages.values():
        if stage.domain.hosted_zone is not None and stage.account != pipeline.account:
            steps.append(
                f"Before {stage.name}'s first deployment, with account {stage.account}'s credentials: "
                f"make check-dns STAGE={stage.name}"
            )
    steps.append("After changing pipeline/*.json or cdk.json's accounts, regions or domains: make bootstrap again")
    return steps


def _run_cdk(args: list[str]) -> int:
    return subprocess.run([*CDK, *args], cwd=ROOT, check=False).returncode


def _print_cdk(args: list[str]) -> int:
    print(" ".join([*CDK, *args]))
    return 0


def _config(context_file: Path | None) -> AppConfig:
    if context_file is not None and not context_file.is_file():
        raise BootstrapError(f"--context {context_file}: no such file")
    try:
        return load(context_for(ROOT, context_file).get(CONTEXT_KEY))
    except json.JSONDecodeError as error:
        raise BootstrapError(f"{context_file or 'cdk.json'} is not valid JSON: {error}") from None


def main(
    argv: Sequence[str] | None = None, *, clients: ClientFactory | None = None, cdk: CdkRunner | None = None
) -> int:
    args = _parse(argv)
    current: tuple[str, str | None] = ("", None)
    try:
        config = _config(args.context)
        plans = plan(config)
        profiles = _profiles(args.profile, [p.account for p in plans], args.dry_run)
        if args.dry_run:
            clients, cdk = clients or dry_clients(profiles, print), cdk or _print_cdk
        clients, cdk = clients or real_clients(profiles), cdk or _run_cdk
        pipeline_account = config.pipeline.account if config.pipeline else None
        for account_plan in plans:
            current = (account_plan.account, profiles[account_plan.account])
            _set_up(account_plan, pipeline_account, current[1], clients, cdk)
        current = (pipeline_account or "", profiles.get(pipeline_account or ""))
        pending = config.pipeline is not None and _connection_pending(config, clients)
    except (ConfigError, BootstrapError) as error:
        print(f"make bootstrap: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as error:
        print(f"make bootstrap: {describe(error, *current)}", file=sys.stderr)
        return EXIT_FAILED
    print("\nDone. What is left by hand:")
    for number, step in enumerate(next_steps(config, profiles, pending), 1):
        print(f"  {number}. {step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
