"""The deployment configuration: one typed, validated object loaded from the `download-service` key of the
`cdk.json` context.

Plain Python on purpose (no CDK imports): a wrong `cdk.json` must fail here, before any construct exists, with one
line that names the field, e.g. ``cdk.json: stages.prod.domain_name: required when production is true``.

Shape (see cdk.json)::

    "download-service": {
      "defaults": {<stage fields shared by every stage>},
      "stages":   {"<name>": {<stage fields, overriding defaults>}, ...},
      "dns":      {<optional one-time hosted zone stack>},
      "pipeline": {<optional: the self-mutating pipeline, see PipelineConfig>}
    }
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from download_service import contract

CONTEXT_KEY = "download-service"

#: CloudWatch Logs accepts only these retention periods (days); mapped to aws_logs.RetentionDays in the stacks.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)  # fmt: skip

#: Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_MEMORY_MIB: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_BUDGET_SCOPES = ("account", "stage")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^(?!/|.*//|.*\.\.|.*@\{|.*\.lock$|.*/$)[A-Za-z0-9._/-]{1,200}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:(?:codeconnections|codestar-connections):"
    r"(?P<region>[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d):(?P<account>\d{12}):"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class ConfigError(ValueError):
    """`cdk.json` is wrong. The message is one line: ``cdk.json: <field path>: <what is wrong>``."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"cdk.json: {path}: {problem}")
        self.path = path


@dataclass(frozen=True)
class HostedZone:
    """An existing Route 53 public hosted zone (created by hand or by the one-time Dns stack)."""

    id: str
    name: str


@dataclass(frozen=True)
class StageConfig:
    """One deployable copy of the service (sandbox, dev, prod...)."""

    name: str
    account: str
    region: str
    production: bool = False
    #: Empty: the first two AZs the account has in the region, resolved at deploy time (Fn::GetAZs).
    availability_zones: tuple[str, ...] = ()
    vpc_cidr: str = "10.0.0.0/16"
    cpu: int = 512
    memory_mib: int = 1024
    min_tasks: int = 2
    max_tasks: int = 4
    requests_per_target: int = 1000
    log_retention_days: int = 30
    log_level: str = "info"
    files_prefix: str = ""
    deletion_protection: bool | None = None  # None: follows `production`
    domain_name: str | None = None
    hosted_zone: HostedZone | None = None
    #: Used by the monitoring issue (SNS subscription, AWS Budget); validated now so cdk.json is checked once.
    alarm_email: str | None = None
    monthly_budget_usd: float | None = None
    #: "account": the budget counts the whole account's spend (one stage per account); "stage": only resources
    #: tagged stage=<name> (needs the `stage` cost allocation tag activated once in the Billing console).
    budget_scope: str = "account"
    #: Alarm thresholds (stages/monitoring/alarms.py).
    alarm_5xx_percent: float = 5.0  # (ELB + target 5xx) / requests over 5 minutes
    alarm_p99_latency_ms: int = 2000  # target response time (to response headers), p99, 2 of 3 5-minute periods
    alarm_cpu_percent: int = 80  # service average CPU, 5 minutes in a row
    alarm_memory_percent: int = 80  # service average memory, 5 minutes in a row
    alarm_error_logs: int = 5  # error/critical log lines in 5 minutes

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
    def protect(self) -> bool:
        """Deletion protection on the ALB — defaults to `production`. Data is kept (RETAIN) by `production` alone,
        so a dev stage with a protected ALB can still be torn down completely."""
        return self.production if self.deletion_protection is None else self.deletion_protection

    @property
    def https(self) -> bool:
        return self.domain_name is not None


@dataclass(frozen=True)
class DnsConfig:
    """The optional one-time stack that creates the public hosted zone and outputs its name servers."""

    zone_name: str
    account: str
    region: str


@dataclass(frozen=True)
class PipelineConfig:
    """The self-mutating pipeline: where it reads the code and which stages it deploys, in order.

    The pipeline lives where its CodeConnections connection lives (a connection serves its own account and region
    only), so `account` and `region` are read from `connection_arn`. The first stage deploys on every push; each
    later stage waits for a manual approval.
    """

    repository: str  # GitHub "owner/repo"
    branch: str
    connection_arn: str
    stages: tuple[str, ...]
    notification_email: str | None = None

    @property
    def account(self) -> str:
        return _CONNECTION_ARN.match(self.connection_arn)["account"]  # type: ignore[index]

    @property
    def region(self) -> str:
        return _CONNECTION_ARN.match(self.connection_arn)["region"]  # type: ignore[index]

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def repo(self) -> str:
        return self.repository.split("/", 1)[1]


@dataclass(frozen=True)
class AppConfig:
    stages: dict[str, StageConfig]
    dns: DnsConfig | None = None
    pipeline: PipelineConfig | None = None

    @property
    def sandbox_stages(self) -> dict[str, StageConfig]:
        """The stages deployed from a laptop (make deploy-sandbox), i.e. every stage the pipeline does not own."""
        owned = set(self.pipeline.stages) if self.pipeline else set()
        return {name: stage for name, stage in self.stages.items() if name not in owned}


# ---- loading --------------------------------------------------------------------------------------------------


def load(context: Mapping[str, Any] | None) -> AppConfig:
    """Validate the `download-service` context value and return the typed config (raises ConfigError)."""
    if context is None:
        raise ConfigError(CONTEXT_KEY, "missing from the cdk.json context")
    root = _mapping(context, CONTEXT_KEY)
    _no_unknown_keys(root, {"defaults", "stages", "dns", "pipeline"}, "")
    defaults = _mapping(root.get("defaults", {}), "defaults")
    stages_raw = _mapping(root.get("stages"), "stages")
    if not stages_raw:
        raise ConfigError("stages", "define at least one stage")
    stages = {name: _stage(name, defaults, stages_raw[name]) for name in stages_raw}
    _one_account_budget_per_account(stages)
    dns = _dns(root["dns"]) if "dns" in root else None
    pipeline = _pipeline(root["pipeline"], stages) if "pipeline" in root else None
    return AppConfig(stages=stages, dns=dns, pipeline=pipeline)


_STAGE_FIELDS = {f.name for f in fields(StageConfig)} - {"name"}
_MAX_BUCKET_NAME = 63  # S3's limit


def files_bucket_name(stage: str, account: str, region: str) -> str:
    return f"{contract.SERVICE_NAME}-{stage}-files-{account}-{region}"


def _one_account_budget_per_account(stages: Mapping[str, StageConfig]) -> None:
    """Two account-wide budgets in one account would each alert on the other stages' spend."""
    seen: dict[str, str] = {}
    for stage in stages.values():
        if stage.monthly_budget_usd is None or stage.budget_scope != "account":
            continue
        if stage.account in seen:
            raise ConfigError(
                f"stages.{stage.name}.budget_scope",
                f"'account' would also count {seen[stage.account]!r}'s spend (same account {stage.account}); "
                "use 'stage' (tag-filtered) for all but one stage",
            )
        seen[stage.account] = stage.name


def _stage(name: str, defaults: Mapping[str, Any], raw: Any) -> StageConfig:
    if not _STAGE_NAME.fullmatch(name):
        raise ConfigError(f"stages.{name}", "stage names are 1-16 lowercase letters/digits, starting with a letter")
    own = _mapping(raw, f"stages.{name}")
    _no_unknown_keys(defaults, _STAGE_FIELDS, "defaults.")
    _no_unknown_keys(own, _STAGE_FIELDS, f"stages.{name}.")
    merged = {**defaults, **own}

    def path(key: str) -> str:
        # Name the place the user has to edit: the stage's own entry, or the shared defaults it inherited.
        return f"defaults.{key}" if key in defaults and key not in own else f"stages.{name}.{key}"

    f = _Fields(merged, path)
    account = f.text("account", required=True, pattern=_ACCOUNT, hint="a 12-digit string (quoted)")
    region = f.text("region", required=True, pattern=_REGION, hint="an AWS region such as eu-west-1")
    azs = f.string_list("availability_zones")
    if azs and (len(azs) != 2 or len(set(azs)) != 2):
        raise ConfigError(path("availability_zones"), "list exactly 2 distinct availability zones")
    for az in azs:
        if not (az.startswith(region) and re.fullmatch(r"[a-z]", az[len(region) :])):
            raise ConfigError(path("availability_zones"), f"{az!r} is not an availability zone of {region}")
    bucket = files_bucket_name(name, account, region)
    if len(bucket) > _MAX_BUCKET_NAME:
        raise ConfigError(
            f"stages.{name}", f"the files bucket name {bucket!r} would exceed S3's 63 characters: use a shorter name"
        )
    production = f.boolean("production", default=False)

    vpc_cidr = f.text("vpc_cidr", default="10.0.0.0/16")
    try:
        network = ipaddress.IPv4Network(vpc_cidr)
    except ValueError:
        raise ConfigError(path("vpc_cidr"), f"{vpc_cidr!r} is not an IPv4 CIDR block") from None
    if not 16 <= network.prefixlen <= 22:
        raise ConfigError(path("vpc_cidr"), "use a /16 to /22 block (4 subnets of /24 must fit)")

    cpu = f.integer("cpu", default=512)
    if cpu not in FARGATE_MEMORY_MIB:
        raise ConfigError(path("cpu"), f"{cpu} is not a Fargate cpu size ({', '.join(map(str, FARGATE_MEMORY_MIB))})")
    memory = f.integer("memory_mib", default=1024)
    if memory not in FARGATE_MEMORY_MIB[cpu]:
        allowed = FARGATE_MEMORY_MIB[cpu]
        raise ConfigError(path("memory_mib"), f"{memory} is not valid with cpu {cpu} ({allowed[0]}-{allowed[-1]})")

    min_tasks = f.integer("min_tasks", default=2)
    if min_tasks < 2:
        raise ConfigError(path("min_tasks"), "at least 2 (one task per availability zone)")
    max_tasks = f.integer("max_tasks", default=4)
    if max_tasks < min_tasks:
        raise ConfigError(path("max_tasks"), f"must be >= min_tasks ({min_tasks})")
    requests_per_target = f.integer("requests_per_target", default=1000)
    if requests_per_target < 1:
        raise ConfigError(path("requests_per_target"), "must be a positive number of requests per minute")
    retention = f.integer("log_retention_days", default=30)
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(path("log_retention_days"), f"{retention} is not a CloudWatch Logs retention period")
    log_level = f.text("log_level", default="info")
    if log_level not in _LOG_LEVELS:
        raise ConfigError(path("log_level"), f"one of {', '.join(_LOG_LEVELS)}")
    files_prefix = f.text("files_prefix", default="", pattern=_PREFIX, hint="an S3 key prefix such as 'public/'")
    if files_prefix.startswith("/"):
        raise ConfigError(path("files_prefix"), "S3 key prefixes do not start with '/'")
    deletion_protection = f.optional_boolean("deletion_protection")

    domain_name = f.text("domain_name", pattern=_DOMAIN, hint="a lowercase DNS name such as download.example.com")
    hosted_zone = _hosted_zone(merged.get("hosted_zone"), path("hosted_zone"))
    if production and domain_name is None:
        raise ConfigError(path("domain_name"), "required when production is true (prod serves HTTPS only)")
    if domain_name is not None and hosted_zone is None:
        raise ConfigError(path("hosted_zone"), "required when domain_name is set (the certificate is validated in it)")
    if hosted_zone is not None and domain_name is None:
        raise ConfigError(path("domain_name"), "required when hosted_zone is set")
    if (
        domain_name
        and hosted_zone
        and not (domain_name == hosted_zone.name or domain_name.endswith(f".{hosted_zone.name}"))
    ):
        raise ConfigError(path("domain_name"), f"{domain_name!r} is not inside the hosted zone {hosted_zone.name!r}")

    alarm_email = f.text("alarm_email", pattern=_EMAIL, hint="an e-mail address")
    budget = f.number("monthly_budget_usd")
    if budget is not None and budget <= 0:
        raise ConfigError(path("monthly_budget_usd"), "must be a positive amount in USD")
    budget_scope = f.text("budget_scope", default="account")
    if budget_scope not in _BUDGET_SCOPES:
        raise ConfigError(path("budget_scope"), f"one of {', '.join(_BUDGET_SCOPES)}")
    alarm_5xx_percent = f.number("alarm_5xx_percent")
    alarm_5xx_percent = 5.0 if alarm_5xx_percent is None else alarm_5xx_percent
    if not 0 < alarm_5xx_percent <= 100:
        raise ConfigError(path("alarm_5xx_percent"), "a percentage above 0 and at most 100")
    alarm_p99_latency_ms = f.integer("alarm_p99_latency_ms", default=2000)
    if not 10 <= alarm_p99_latency_ms <= 60_000:
        raise ConfigError(path("alarm_p99_latency_ms"), "milliseconds between 10 and 60000")
    usage = {}
    for key in ("alarm_cpu_percent", "alarm_memory_percent"):
        usage[key] = f.integer(key, default=80)
        if not 1 <= usage[key] <= 100:
            raise ConfigError(path(key), "a whole percentage between 1 and 100")
    alarm_error_logs = f.integer("alarm_error_logs", default=5)
    if alarm_error_logs < 1:
        raise ConfigError(path("alarm_error_logs"), "at least 1 (error log lines in 5 minutes that raise the alarm)")

    return StageConfig(
        name=name,
        account=account,
        region=region,
        availability_zones=tuple(azs),
        production=production,
        vpc_cidr=vpc_cidr,
        cpu=cpu,
        memory_mib=memory,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        requests_per_target=requests_per_target,
        log_retention_days=retention,
        log_level=log_level,
        files_prefix=files_prefix,
        deletion_protection=deletion_protection,
        domain_name=domain_name,
        hosted_zone=hosted_zone,
        alarm_email=alarm_email,
        monthly_budget_usd=budget,
        budget_scope=budget_scope,
        alarm_5xx_percent=alarm_5xx_percent,
        alarm_p99_latency_ms=alarm_p99_latency_ms,
        alarm_cpu_percent=usage["alarm_cpu_percent"],
        alarm_memory_percent=usage["alarm_memory_percent"],
        alarm_error_logs=alarm_error_logs,
    )


def _hosted_zone(raw: Any, path: str) -> HostedZone | None:
    if raw is None:
        return None
    zone = _mapping(raw, path)
    _no_unknown_keys(zone, {"id", "name"}, f"{path}.")
    f = _Fields(zone, lambda key: f"{path}.{key}")
    zone_id = f.text("id", required=True, pattern=_ZONE_ID, hint="a Route 53 hosted zone id such as Z0123456789ABC")
    name = f.text("name", required=True, pattern=_DOMAIN, hint="the zone's domain name, without a trailing dot")
    return HostedZone(id=zone_id, name=name)


def _dns(raw: Any) -> DnsConfig:
    dns = _mapping(raw, "dns")
    _no_unknown_keys(dns, {"zone_name", "account", "region"}, "dns.")
    f = _Fields(dns, lambda key: f"dns.{key}")
    return DnsConfig(
        zone_name=f.text("zone_name", required=True, pattern=_DOMAIN, hint="a domain name such as example.com"),
        account=f.text("account", required=True, pattern=_ACCOUNT, hint="a 12-digit string (quoted)"),
        region=f.text("region", required=True, pattern=_REGION, hint="an AWS region such as eu-west-1"),
    )


_PIPELINE_FIELDS = {f.name for f in fields(PipelineConfig)}


def _pipeline(raw: Any, stages: Mapping[str, StageConfig]) -> PipelineConfig:
    pipeline = _mapping(raw, "pipeline")
    _no_unknown_keys(pipeline, _PIPELINE_FIELDS, "pipeline.")
    f = _Fields(pipeline, lambda key: f"pipeline.{key}")
    repository = f.text("repository", required=True, pattern=_REPOSITORY, hint="a GitHub repository as owner/repo")
    branch = f.text("branch", default="main", pattern=_BRANCH, hint="a git branch name such as main")
    connection_arn = f.text(
        "connection_arn",
        required=True,
        pattern=_CONNECTION_ARN,
        hint="a CodeConnections ARN (arn:aws:codeconnections:<region>:<account>:connection/<uuid>; "
        "create the connection first, see README)",
    )
    names = f.string_list("stages")
    if not names:
        raise ConfigError("pipeline.stages", 'list the stages the pipeline deploys, in order (e.g. ["dev", "prod"])')
    if len(set(names)) != len(names):
        raise ConfigError("pipeline.stages", "a stage can appear only once")
    for name in names:
        if name not in stages:
            raise ConfigError("pipeline.stages", f"{name!r} is not a stage in `stages` ({', '.join(stages)})")
    email = f.text("notification_email", pattern=_EMAIL, hint="an e-mail address")
    return PipelineConfig(
        repository=repository,
        branch=branch,
        connection_arn=connection_arn,
        stages=tuple(names),
        notification_email=email,
    )


# ---- small typed readers --------------------------------------------------------------------------------------


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        raise ConfigError(path, "required")
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be an object, not {type(value).__name__}")
    return value


def _no_unknown_keys(value: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for key in value:
        if key not in known:
            raise ConfigError(f"{prefix}{key}", f"unknown field (known: {', '.join(sorted(known))})")


class _Fields:
    def __init__(self, values: Mapping[str, Any], path: Any) -> None:
        self._values = values
        self._path = path

    def _get(self, key: str, required: bool) -> Any:
        value = self._values.get(key)
        if value is None and required:
            raise ConfigError(self._path(key), "required")
        return value

    def text(
        self, key: str, *, required: bool = False, default: str | None = None, pattern=None, hint: str = ""
    ) -> Any:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ConfigError(self._path(key), f"must be a string{f' ({hint})' if hint else ''}, not {value!r}")
        if pattern is not None and not pattern.fullmatch(value):
            raise ConfigError(self._path(key), f"{value!r} is not {hint}")
        return value

    def string_list(self, key: str) -> list[str]:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(self._path(key), "must be a list of strings")
        return value

    def integer(self, key: str, *, default: int) -> int:
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self._path(key), f"must be an integer, not {value!r}")
        return value

    def number(self, key: str) -> float | None:
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self._path(key), f"must be a number, not {value!r}")
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.optional_boolean(key)
        return default if value is None else value

    def optional_boolean(self, key: str) -> bool | None:
        value = self._get(key, False)
        if value is not None and not isinstance(value, bool):
            raise ConfigError(self._path(key), f"must be true or false, not {value!r}")
        return value
