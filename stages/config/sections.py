"""A stage's configuration, one section per concern. Each section declares its `cdk.json` keys, their defaults and
their validation here, once; each construct takes only the section it needs.

The keys are flat in a stage's `cdk.json` entry (``"max_tasks": 10``), as they always were, so existing
configurations keep working and every error names the key the user wrote; `hosted_zone` is the one nested object.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from .reader import ConfigError, Path, boolean, derived, integer, nested, number, text

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

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
BUDGET_SCOPES = ("account", "stage")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")


@dataclass(frozen=True)
class NetworkConfig:
    """The stage's VPC (stages/network.py)."""

    vpc_cidr: str = field(default="10.0.0.0/16", metadata=text())
    #: Availability zones the interface endpoints (ECR, Logs) have a network interface in: each costs per AZ-hour.
    #: 1 outside production: tasks in the other AZ reach it across the zone boundary; if that AZ fails, so do pulls.
    endpoint_azs: int = field(default=2, metadata=integer())

    def validate(self, path: Path) -> None:
        if self.endpoint_azs not in (1, 2):
            raise ConfigError(path("endpoint_azs"), "1 or 2 (the VPC spans two availability zones)")
        try:
            network = ipaddress.IPv4Network(self.vpc_cidr)
        except ValueError:
            raise ConfigError(path("vpc_cidr"), f"{self.vpc_cidr!r} is not an IPv4 CIDR block") from None
        if not 16 <= network.prefixlen <= 22:
            raise ConfigError(path("vpc_cidr"), "use a /16 to /22 block (4 subnets of /24 must fit)")


CAPACITIES = ("on_demand", "spot")


@dataclass(frozen=True)
class TasksConfig:
    """Task size and scaling (stages/service.py): Fargate cpu/memory, the task count range, the request target,
    the capacity they run on (Fargate or Fargate Spot) and whether the cluster has Container Insights."""

    cpu: int = field(default=512, metadata=integer())
    memory_mib: int = field(default=1024, metadata=integer())
    min_tasks: int = field(default=2, metadata=integer())
    max_tasks: int = field(default=4, metadata=integer())
    #: ALB requests per target per minute that autoscaling aims for: the rate at which small requests alone hold a
    #: task of the default size at the CPU target, derived by stages/capacity.py from measured CPU per request
    #: (tests/infra/test_capacity.py keeps the two equal).
    requests_per_target: int = field(default=4000, metadata=integer())
    #: "spot": Fargate Spot, which may stop a task with two minutes' notice (non-production only).
    capacity: str = field(default="on_demand", metadata=text())
    #: ECS/ContainerInsights metrics (task counts, per-task CPU and memory) at a price per metric; without them the
    #: task count is read from the target groups' healthy hosts (stages/monitoring/segments.py).
    container_insights: bool = field(default=True, metadata=boolean())

    def validate(self, path: Path) -> None:
        if self.cpu not in FARGATE_MEMORY_MIB:
            sizes = ", ".join(map(str, FARGATE_MEMORY_MIB))
            raise ConfigError(path("cpu"), f"{self.cpu} is not a Fargate cpu size ({sizes})")
        allowed = FARGATE_MEMORY_MIB[self.cpu]
        if self.memory_mib not in allowed:
            raise ConfigError(
                path("memory_mib"), f"{self.memory_mib} is not valid with cpu {self.cpu} ({allowed[0]}-{allowed[-1]})"
            )
        if self.min_tasks < 1:
            raise ConfigError(path("min_tasks"), "at least 1")
        if self.capacity not in CAPACITIES:
            raise ConfigError(path("capacity"), f"one of {', '.join(CAPACITIES)}")
        if self.max_tasks < self.min_tasks:
            raise ConfigError(path("max_tasks"), f"must be >= min_tasks ({self.min_tasks})")
        if self.requests_per_target < 1:
            raise ConfigError(path("requests_per_target"), "must be a positive number of requests per minute")


@dataclass(frozen=True)
class ProbeConfig:
    """The synthetic probe (stages/probe.py): how often it runs; each run is billed."""

    every_minutes: int = field(default=5, metadata=integer(key="probe_every_minutes"))

    def validate(self, path: Path) -> None:
        if not 1 <= self.every_minutes <= 60:
            raise ConfigError(path("probe_every_minutes"), "minutes between 1 and 60 (a Synthetics rate schedule)")


@dataclass(frozen=True)
class ServiceConfig:
    """What the container is told (its environment) and may read: the key prefix it serves, its log level."""

    files_prefix: str = field(default="", metadata=text(_PREFIX, "an S3 key prefix such as 'public/'"))
    log_level: str = field(default="info", metadata=text())

    def validate(self, path: Path) -> None:
        if self.files_prefix.startswith("/"):
            raise ConfigError(path("files_prefix"), "S3 key prefixes do not start with '/'")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(path("log_level"), f"one of {', '.join(LOG_LEVELS)}")


@dataclass(frozen=True)
class HostedZone:
    """An existing Route 53 public hosted zone (created by hand or by the one-time Dns stack)."""

    id: str = field(metadata=text(_ZONE_ID, "a Route 53 hosted zone id such as Z0123456789ABC"))
    name: str = field(metadata=text(DOMAIN, "the zone's domain name, without a trailing dot"))


@dataclass(frozen=True)
class DomainConfig:
    """The stage's DNS name and the zone its certificate is validated in; without them the ALB serves plain HTTP."""

    domain_name: str | None = field(
        default=None, metadata=text(DOMAIN, "a lowercase DNS name such as download.example.com")
    )
    hosted_zone: HostedZone | None = field(default=None, metadata=nested(HostedZone))

    @property
    def https(self) -> bool:
        return self.domain_name is not None

    def validate(self, path: Path) -> None:
        name, zone = self.domain_name, self.hosted_zone
        if name is not None and zone is None:
            raise ConfigError(
                path("hosted_zone"), "required when domain_name is set (the certificate is validated in it)"
            )
        if zone is not None and name is None:
            raise ConfigError(path("domain_name"), "required when hosted_zone is set")
        if name and zone and not (name == zone.name or name.endswith(f".{zone.name}")):
            raise ConfigError(path("domain_name"), f"{name!r} is not inside the hosted zone {zone.name!r}")


@dataclass(frozen=True)
class LogsConfig:
    """How long the stage keeps its logs; `retain` (production) keeps log groups after stack deletion."""

    retention_days: int = field(default=30, metadata=integer(key="log_retention_days"))
    retain: bool = field(default=False, metadata=derived())

    def validate(self, path: Path) -> None:
        if self.retention_days not in LOG_RETENTION_DAYS:
            raise ConfigError(
                path("log_retention_days"), f"{self.retention_days} is not a CloudWatch Logs retention period"
            )


@dataclass(frozen=True)
class AlarmsConfig:
    """Where alarms go and when they fire (stages/monitoring/)."""

    email: str | None = field(default=None, metadata=text(EMAIL, "an e-mail address", key="alarm_email"))
    #: (ELB + target 5xx) / requests over 5 minutes, in percent.
    five_xx_percent: float = field(default=5.0, metadata=number(key="alarm_5xx_percent"))
    #: Target response time (to response headers), p99, in 2 of 3 five-minute periods.
    p99_latency_ms: int = field(default=2000, metadata=integer(key="alarm_p99_latency_ms"))
    #: Service average CPU and memory, 5 minutes in a row.
    cpu_percent: int = field(default=85, metadata=integer(key="alarm_cpu_percent"))
    memory_percent: int = field(default=85, metadata=integer(key="alarm_memory_percent"))
    #: Error/critical log lines in 5 minutes.
    error_logs: int = field(default=10, metadata=integer(key="alarm_error_logs"))

    def validate(self, path: Path) -> None:
        if not 0 < self.five_xx_percent <= 100:
            raise ConfigError(path("alarm_5xx_percent"), "a percentage above 0 and at most 100")
        if not 10 <= self.p99_latency_ms <= 60_000:
            raise ConfigError(path("alarm_p99_latency_ms"), "milliseconds between 10 and 60000")
        for key, value in (("alarm_cpu_percent", self.cpu_percent), ("alarm_memory_percent", self.memory_percent)):
            if not 1 <= value <= 100:
                raise ConfigError(path(key), "a whole percentage between 1 and 100")
        if self.error_logs < 1:
            raise ConfigError(
                path("alarm_error_logs"), "at least 1 (error log lines in 5 minutes that raise the alarm)"
            )


@dataclass(frozen=True)
class BudgetConfig:
    """A monthly AWS Budget (stages/monitoring/spend.py); none without `monthly_budget_usd`.

    `scope` "account" counts the whole account's spend (one stage per account); "stage" only resources tagged
    stage=<name> (needs the `stage` cost allocation tag activated once in the Billing console).
    """

    monthly_usd: float | None = field(default=None, metadata=number(key="monthly_budget_usd"))
    scope: str = field(default="account", metadata=text(key="budget_scope"))

    def validate(self, path: Path) -> None:
        if self.monthly_usd is not None and self.monthly_usd <= 0:
            raise ConfigError(path("monthly_budget_usd"), "must be a positive amount in USD")
        if self.scope not in BUDGET_SCOPES:
            raise ConfigError(path("budget_scope"), f"one of {', '.join(BUDGET_SCOPES)}")


__all__ = [
    "AlarmsConfig",
    "BudgetConfig",
    "DomainConfig",
    "HostedZone",
    "LogsConfig",
    "NetworkConfig",
    "ProbeConfig",
    "ServiceConfig",
    "TasksConfig",
]
