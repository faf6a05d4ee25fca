"""The stages' configuration: typed, validated `StageConfig`s loaded from the `download-service` key of the
`cdk.json` context, and where that file is.

Shape of the stage part (the pipeline and dns parts belong to their owners, see app.py)::

    "download-service": {
      "defaults": {<stage fields shared by every stage>},
      "stages":   {"<name>": {<stage fields, overriding defaults>}, ...},
      ...
    }

A wrong value fails here with one line that names the field, e.g.
``cdk.json: stages.prod.domain_name: required when production is true``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from download_service import contract

from .deployment import DeploymentConfig
from .edge import EdgeConfig
from .reader import (
    ConfigError,
    boolean,
    derived,
    keys_of,
    mapping,
    nested,
    no_unknown_keys,
    read_section,
    section,
    string_list,
    text,
)
from .sections import (
    FARGATE_MEMORY_MIB,
    LOG_RETENTION_DAYS,
    AlarmsConfig,
    BudgetConfig,
    DomainConfig,
    HostedZone,
    LogsConfig,
    NetworkConfig,
    ProbeConfig,
    ServiceConfig,
    TasksConfig,
)

CONTEXT_KEY = "download-service"
CDK_JSON = Path(__file__).resolve().parent.parent.parent / "cdk.json"

ACCOUNT = re.compile(r"^\d{12}$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_MAX_BUCKET_NAME = 63  # S3's limit
#: What `"lean": true` sets for a non-production stage (any of them can still be set in its own entry): one task on
#: Fargate Spot, interface endpoints in one AZ, the probe every 15 minutes, no Container Insights. docs/operations.md
#: says what each gives up; `make cost` shows what each saves.
LEAN = {"min_tasks": 1, "capacity": "spot", "endpoint_azs": 1, "probe_every_minutes": 15, "container_insights": False}
_MAX_LOAD_BALANCER_NAME = 32  # Elastic Load Balancing's limit


def metrics_namespace(stage: str) -> str:
    """The stage's own CloudWatch namespace: log metric filters and the service's embedded metrics (slots)."""
    return f"{contract.SERVICE_NAME}/{stage}"


def files_bucket_name(stage: str, account: str, region: str) -> str:
    return f"{contract.SERVICE_NAME}-{stage}-files-{account}-{region}"


#: Synthetics canary names: CDK keeps its generated ones to 21 characters (the canary's function is
#: cwsyn-<name>-<id>); this prefix plus a load-balancer-sized stage name (15) stays within it.
PROBE_PREFIX = "dlsvc-"


def probe_name(stage: str) -> str:
    """Named, not generated: Synthetics' CreateCanary takes no resource ARN and canaries cannot be tagged on creation
    without allowing TagResource on every canary, so the execution policies scope canaries, their functions and
    layers by this name (pipeline/deploy-compute-policy.json)."""
    return f"{PROBE_PREFIX}{stage}"


def load_balancer_name(stage: str) -> str:
    """Named, not generated: the name in a load balancer's ARN is the only thing IAM can scope the web ACL
    association to (wafv2 lists no condition key for load balancers; pipeline/deploy-edge-policy.json)."""
    return f"{contract.SERVICE_NAME}-{stage}"


@dataclass(frozen=True)
class StageConfig:
    """One deployable copy of the service (sandbox, dev, prod...): where it lives, and a section per concern."""

    name: str = field(metadata=derived())
    account: str = field(metadata=text(ACCOUNT, "a 12-digit string (quoted)"))
    region: str = field(metadata=text(REGION, "an AWS region such as eu-west-1"))
    #: RETAIN data and logs, deletion protection, HTTPS required.
    production: bool = field(default=False, metadata=boolean())
    #: Empty: the first two AZs the account has in the region, resolved at deploy time (Fn::GetAZs).
    availability_zones: tuple[str, ...] = field(default=(), metadata=string_list())
    #: Deletion protection on the ALB; None follows `production`.
    deletion_protection: bool | None = field(default=None, metadata=boolean())
    #: The LEAN defaults (non-production only).
    lean: bool = field(default=False, metadata=boolean())
    network: NetworkConfig = field(default_factory=NetworkConfig, metadata=section())
    tasks: TasksConfig = field(default_factory=TasksConfig, metadata=section())
    probe: ProbeConfig = field(default_factory=ProbeConfig, metadata=section())
    service: ServiceConfig = field(default_factory=ServiceConfig, metadata=section())
    domain: DomainConfig = field(default_factory=DomainConfig, metadata=section())
    logs: LogsConfig = field(default_factory=LogsConfig, metadata=section())
    alarms: AlarmsConfig = field(default_factory=AlarmsConfig, metadata=section())
    budget: BudgetConfig = field(default_factory=BudgetConfig, metadata=section())
    deployment: DeploymentConfig = field(default_factory=DeploymentConfig, metadata=nested(DeploymentConfig))
    edge: EdgeConfig = field(default_factory=EdgeConfig, metadata=nested(EdgeConfig))

    @property
    def construct_id(self) -> str:
        """The Stage's construct id; CloudFormation stack names derive from it (``Dev-Stateful``)."""
        return self.name.capitalize()

    @property
    def files_bucket_name(self) -> str:
        """Deterministic, so the stateless stack and the task role policy name the bucket without a cross-stack
        reference; account, region and stage make it unique (S3 names are global)."""
        return files_bucket_name(self.name, self.account, self.region)

    @property
    def load_balancer_name(self) -> str:
        return load_balancer_name(self.name)

    @property
    def protect(self) -> bool:
        """Deletion protection on the ALB — defaults to `production`. Data is kept (RETAIN) by `production` alone,
        so a dev stage with a protected ALB can still be torn down completely."""
        return self.production if self.deletion_protection is None else self.deletion_protection

    def validate(self, path: Any) -> None:
        azs = self.availability_zones
        if azs and (len(azs) != 2 or len(set(azs)) != 2):
            raise ConfigError(path("availability_zones"), "list exactly 2 distinct availability zones")
        for az in azs:
            if not (az.startswith(self.region) and re.fullmatch(r"[a-z]", az[len(self.region) :])):
                raise ConfigError(path("availability_zones"), f"{az!r} is not an availability zone of {self.region}")
        if len(self.files_bucket_name) > _MAX_BUCKET_NAME:
            raise ConfigError(
                f"stages.{self.name}",
                f"the files bucket name {self.files_bucket_name!r} would exceed S3's 63 characters: use a shorter name",
            )
        if len(self.load_balancer_name) > _MAX_LOAD_BALANCER_NAME:
            raise ConfigError(
                f"stages.{self.name}",
                f"the load balancer name {self.load_balancer_name!r} would exceed 32 characters: use a shorter name",
            )
        if self.production and not self.domain.https:
            raise ConfigError(path("domain_name"), "required when production is true (prod serves HTTPS only)")
        if self.production:
            self._full_footprint(path)

    def _full_footprint(self, path: Any) -> None:
        """Production keeps two AZs, two tasks at least, on-demand capacity (docs/operations.md)."""
        if self.lean:
            raise ConfigError(path("lean"), "only for non-production stages")
        if self.tasks.min_tasks < 2:
            raise ConfigError(path("min_tasks"), "at least 2 in production (one task per availability zone)")
        if self.tasks.capacity != "on_demand":
            raise ConfigError(path("capacity"), "production runs on on_demand capacity (Spot may stop tasks)")
        if self.network.endpoint_azs != 2:
            raise ConfigError(path("endpoint_azs"), "2 in production (one AZ's failure must not stop image pulls)")


_STAGE_KEYS = keys_of(StageConfig)


def load_stage(name: str, defaults: Mapping[str, Any], raw: Any) -> StageConfig:
    """`stages.<name>` over `defaults`, typed and validated (raises ConfigError)."""
    if not _STAGE_NAME.fullmatch(name):
        raise ConfigError(f"stages.{name}", "stage names are 1-16 lowercase letters/digits, starting with a letter")
    own = mapping(raw, f"stages.{name}")
    no_unknown_keys(defaults, _STAGE_KEYS, "defaults.")
    no_unknown_keys(own, _STAGE_KEYS, f"stages.{name}.")
    merged = {**defaults, **own}
    if merged.get("lean") is True:
        merged = {**LEAN, **merged}

    def path(key: str) -> str:
        # Name the place the user has to edit: the stage's own entry, or the shared defaults it inherited.
        return f"defaults.{key}" if key in defaults and key not in own else f"stages.{name}.{key}"

    stage = read_section(StageConfig, merged, path, name=name)
    return dataclasses.replace(
        stage,
        # Production keeps its logs after stack deletion, as it keeps its data.
        logs=dataclasses.replace(stage.logs, retain=stage.production),
        deployment=stage.deployment.for_stage(stage.production, path("deployment")),
        edge=stage.edge.for_stage(stage.production),
    )


def load_stages(root: Mapping[str, Any]) -> dict[str, StageConfig]:
    """Every stage of the `download-service` context value (its `defaults` and `stages` keys)."""
    defaults = mapping(root.get("defaults", {}), "defaults")
    raw = mapping(root.get("stages"), "stages")
    if not raw:
        raise ConfigError("stages", "define at least one stage")
    stages = {name: load_stage(name, defaults, raw[name]) for name in raw}
    _one_account_budget_per_account(stages)
    return stages


def _one_account_budget_per_account(stages: Mapping[str, StageConfig]) -> None:
    """Two account-wide budgets in one account would each alert on the other stages' spend."""
    seen: dict[str, str] = {}
    for stage in stages.values():
        if stage.budget.monthly_usd is None or stage.budget.scope != "account":
            continue
        if stage.account in seen:
            raise ConfigError(
                f"stages.{stage.name}.budget_scope",
                f"'account' would also count {seen[stage.account]!r}'s spend (same account {stage.account}); "
                "use 'stage' (tag-filtered) for all but one stage",
            )
        seen[stage.account] = stage.name


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The `context` of cdk.json (feature flags + config), as the CDK CLI would pass it to the app."""
    return json.loads(path.read_text())["context"]


__all__ = [
    "CDK_JSON",
    "CONTEXT_KEY",
    "FARGATE_MEMORY_MIB",
    "LEAN",
    "LOG_RETENTION_DAYS",
    "AlarmsConfig",
    "BudgetConfig",
    "ConfigError",
    "DeploymentConfig",
    "DomainConfig",
    "EdgeConfig",
    "HostedZone",
    "LogsConfig",
    "NetworkConfig",
    "ProbeConfig",
    "ServiceConfig",
    "StageConfig",
    "TasksConfig",
    "cdk_json_context",
    "load_stage",
    "load_stages",
    "metrics_namespace",
]
