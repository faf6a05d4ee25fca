"""The guardrail policies of an account, as `make bootstrap` installs them: which of `pipeline/*.json` an account
gets, and each document rendered for it.

Every account gets the execution role's boundary (`deploy-boundary.json`). An account that hosts a stage gets the
stage boundary and the five stage execution policies; the pipeline's account gets the pipeline boundary and the two
pipeline execution policies; the shipped one-account layout gets all of them.

Rendering fills in what only cdk.json knows: the Route 53 statements of `deploy-edge-policy.json` name the stages'
hosted zones and record names (`HOSTED_ZONE_ID`, `DOMAIN_NAME` in the file); an account whose stages have no domain
gets no Route 53 write permission at all. Route 53 has no resource tags IAM can evaluate (its hosted zone resource
type lists no condition keys in the Service Authorization Reference), so the zone id and the record names
(`route53:ChangeResourceRecordSetsNormalizedRecordNames`, lower case, no trailing dot:
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-conditions-route53.html) are what keeps the
execution role to the stage's own records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from stages.common.boundary import (
    BOUNDARY_POLICY_NAME,
    DEPLOY_BOUNDARY_POLICY_NAME,
    EXECUTION_POLICY_NAMES,
    PIPELINE_BOUNDARY_POLICY_NAME,
    PIPELINE_POLICY_NAMES,
)
from stages.config import StageConfig

POLICY_DIR = Path(__file__).resolve().parent
#: Placeholders in deploy-edge-policy.json; a list element holding one becomes one element per stage domain.
ZONE, DOMAIN = "HOSTED_ZONE_ID", "DOMAIN_NAME"


@dataclass(frozen=True)
class Guardrail:
    """One customer managed policy: its IAM name and the file in pipeline/ it is made from."""

    name: str
    file: str

    @property
    def path(self) -> Path:
        return POLICY_DIR / self.file


STAGE_BOUNDARY = Guardrail(BOUNDARY_POLICY_NAME, "permissions-boundary.json")
PIPELINE_BOUNDARY = Guardrail(PIPELINE_BOUNDARY_POLICY_NAME, "pipeline-boundary.json")
DEPLOY_BOUNDARY = Guardrail(DEPLOY_BOUNDARY_POLICY_NAME, "deploy-boundary.json")
STAGE_EXECUTION = tuple(Guardrail(f"download-service-{n}", f"{n}-policy.json") for n in EXECUTION_POLICY_NAMES)
PIPELINE_EXECUTION = tuple(Guardrail(f"download-service-{n}", f"{n}-policy.json") for n in PIPELINE_POLICY_NAMES)
ALL = (STAGE_BOUNDARY, PIPELINE_BOUNDARY, DEPLOY_BOUNDARY, *STAGE_EXECUTION, *PIPELINE_EXECUTION)


@cache
def _source(path: Path) -> str:
    return path.read_text()


def _expand(value: Any, zones: tuple[tuple[str, str], ...]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, zones) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            if isinstance(item, str) and (ZONE in item or DOMAIN in item):
                out += [item.replace(ZONE, zone).replace(DOMAIN, domain) for zone, domain in zones]
            else:
                out.append(_expand(item, zones))
        return list(dict.fromkeys(out)) if all(isinstance(i, str) for i in out) else out
    if isinstance(value, str) and (ZONE in value or DOMAIN in value):
        return _expand([value], zones)
    return value


def _mentions_placeholder(statement: dict[str, Any]) -> bool:
    text = json.dumps(statement)
    return ZONE in text or DOMAIN in text


@dataclass(frozen=True)
class AccountGuardrails:
    """What one account gets: its boundaries, its execution policies (in `cdk bootstrap` order), and the
    (hosted zone id, domain name) of every stage it hosts that has a domain."""

    account: str
    boundaries: tuple[Guardrail, ...]
    execution: tuple[Guardrail, ...]
    zones: tuple[tuple[str, str], ...] = ()

    @property
    def all(self) -> tuple[Guardrail, ...]:
        return (*self.boundaries, *self.execution)

    def document(self, guardrail: Guardrail) -> dict[str, Any]:
        """The policy document as installed in this account."""
        document = json.loads(_source(guardrail.path))
        statements = []
        for statement in document["Statement"]:
            if not _mentions_placeholder(statement):
                statements.append(statement)
            elif self.zones:
                statements.append(_expand(statement, self.zones))
        return {**document, "Statement": statements}

    def documents(self) -> dict[str, dict[str, Any]]:
        return {g.name: self.document(g) for g in self.all}

    def execution_documents(self) -> list[dict[str, Any]]:
        return [self.document(g) for g in self.execution]


def for_account(account: str, stages: Iterable[StageConfig], pipeline_account: str | None) -> AccountGuardrails:
    """The guardrails of `account`, given every stage of cdk.json and the pipeline's account (None: no pipeline)."""
    here = [s for s in stages if s.account == account]
    hosts_pipeline = account == pipeline_account
    if not here and not hosts_pipeline:
        raise ValueError(f"no stage and no pipeline in account {account}")
    boundaries: list[Guardrail] = []
    execution: list[Guardrail] = []
    if here:
        boundaries.append(STAGE_BOUNDARY)
        execution += STAGE_EXECUTION
    if hosts_pipeline:
        boundaries.append(PIPELINE_BOUNDARY)
        execution += PIPELINE_EXECUTION
    boundaries.append(DEPLOY_BOUNDARY)
    zones = tuple(
        dict.fromkeys(
            (s.domain.hosted_zone.id, s.domain.domain_name)
            for s in here
            if s.domain.hosted_zone is not None and s.domain.domain_name
        )
    )
    return AccountGuardrails(account=account, boundaries=tuple(boundaries), execution=tuple(execution), zones=zones)
