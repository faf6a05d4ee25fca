"""What stands between the internet and the tasks: the `edge` object of a stage in `cdk.json`.

    "edge": {"waf": true, "waf_rate_limit": 2000, "tls_to_tasks": true, "hsts_max_age_days": 365}

Defaults follow `production` (`for_stage`): prod has the WAF, TLS from the load balancer to the tasks and a year of
HSTS; other stages have neither WAF nor TLS to the tasks (they cost money and CPU and protect test data) and a day of
HSTS where they serve HTTPS at all. Limits are AWS's: a rate-based rule counts 10 to 2,000,000,000 requests per
client address in its 5-minute window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .reader import ConfigError, Path, boolean, integer

WAF_RATE_LIMITS = (10, 2_000_000_000)
#: HSTS max-age (days) when cdk.json does not say: production, then every other stage.
DEFAULT_HSTS_DAYS = {True: 365, False: 1}


@dataclass(frozen=True)
class EdgeConfig:
    """The stage's edge protections. `for_stage(production)` resolves the production-dependent defaults."""

    #: AWS WAF on the load balancer: managed Common, Known Bad Inputs and IP reputation rules, a rate limit.
    waf: bool | None = field(default=None, metadata=boolean())
    #: Requests one client address may send in 5 minutes before the WAF answers 429.
    waf_rate_limit: int = field(default=2000, metadata=integer())
    #: Blocked requests in 5 minutes that raise the WAF alarm (a surge: an attack, or a rule hitting real users).
    waf_block_alarm: int = field(default=1000, metadata=integer())
    #: HTTPS from the load balancer to the tasks (a certificate the task makes for itself at start).
    tls_to_tasks: bool | None = field(default=None, metadata=boolean())
    hsts_max_age_days: int | None = field(default=None, metadata=integer())

    def validate(self, where: Path) -> None:
        low, high = WAF_RATE_LIMITS
        if not low <= self.waf_rate_limit <= high:
            raise ConfigError(where("waf_rate_limit"), f"requests per 5 minutes between {low} and {high}")
        if self.waf_block_alarm < 1:
            raise ConfigError(where("waf_block_alarm"), "at least 1 (blocked requests in 5 minutes)")
        if self.hsts_max_age_days is not None and not 0 <= self.hsts_max_age_days <= 3650:
            raise ConfigError(where("hsts_max_age_days"), "days between 0 and 3650")

    def for_stage(self, production: bool) -> EdgeConfig:
        return replace(
            self,
            waf=production if self.waf is None else self.waf,
            tls_to_tasks=production if self.tls_to_tasks is None else self.tls_to_tasks,
            hsts_max_age_days=DEFAULT_HSTS_DAYS[production]
            if self.hsts_max_age_days is None
            else self.hsts_max_age_days,
        )
