"""What `make bootstrap` sets up where, from cdk.json alone (no AWS): accounts, their regions, their guardrails.

`stage_regions` is the one place that says which regions a stage deploys to; a stage stack in another region (the
CDN edge's us-east-1 stack) adds its region there, and every account gets bootstrapped in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline import guardrails
from stages.config import StageConfig

if TYPE_CHECKING:  # the composition root: a type here, never an import (pipeline_stack imports this module)
    from app import AppConfig

#: The CDK bootstrap's default qualifier (DefaultStackSynthesizer.DEFAULT_QUALIFIER): the bootstrap resources'
#: names, which the pipeline's roles and the guardrails name too. tests/devtools/test_bootstrap_plan.py pins it.
QUALIFIER = "hnb659fds"


def asset_repository(account: str, region: str) -> str:
    """The bootstrap's container asset repository, where the pipeline publishes the service image."""
    return f"cdk-{QUALIFIER}-container-assets-{account}-{region}"


def stage_regions(stage: StageConfig) -> tuple[str, ...]:
    """Every region `stage` deploys a stack to."""
    return (stage.region,)


@dataclass(frozen=True)
class AccountPlan:
    """One account: its guardrails, the regions to bootstrap, and what each region needs besides."""

    account: str
    guardrails: guardrails.AccountGuardrails
    #: `cdk bootstrap` in each, in this order.
    regions: tuple[str, ...]
    #: The pipeline's account, when it is another one: trusted to deploy here (`cdk bootstrap --trust`).
    trust: str | None
    #: Where images are published (stage regions): registry scanning must cover the asset repository.
    scanned_regions: tuple[str, ...]
    #: Where the pipeline's image gate reads the image from another account: the repository policy must admit it.
    gated_regions: tuple[str, ...]


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def plan(config: AppConfig) -> list[AccountPlan]:
    """Every account cdk.json deploys to, the pipeline's first (its stages' bootstraps trust it)."""
    stages = list(config.stages.values())
    pipeline = config.pipeline
    pipeline_account = pipeline.account if pipeline else None
    gated = config.stages[pipeline.stages[0]] if pipeline else None  # the stage whose image the gate judges
    accounts = _unique([*([pipeline_account] if pipeline_account else []), *(s.account for s in stages)])
    plans = []
    for account in accounts:
        here = [s for s in stages if s.account == account]
        stage_side = _unique([r for s in here for r in stage_regions(s)])
        regions = _unique([*([pipeline.region] if account == pipeline_account else []), *stage_side])
        cross = gated is not None and gated.account == account and account != pipeline_account
        plans.append(
            AccountPlan(
                account=account,
                guardrails=guardrails.for_account(account, stages, pipeline_account),
                regions=regions,
                trust=pipeline_account if pipeline_account not in (None, account) else None,
                scanned_regions=stage_side,
                gated_regions=(gated.region,) if cross else (),
            )
        )
    return plans
