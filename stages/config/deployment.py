"""How a release reaches a stage's users: the `deployment` object of a stage in `cdk.json`.

    "deployment": {"strategy": "canary", "step_percent": 10, "step_bake_minutes": 10, "bake_minutes": 10}

`canary`, `linear` and `blue_green` are ECS-native deployments: the new revision starts beside the old one, is
smoke-tested through the test listener before it takes production traffic (the POST_TEST_TRAFFIC_SHIFT hook), then
takes production traffic in steps (`step_percent` once for canary, every step for linear, all at once for
blue/green), each followed by `step_bake_minutes`, and finally `bake_minutes` with the old revision kept ready for
a rollback. `rolling` (non-production only) replaces tasks in place behind the circuit breaker.

Defaults follow `production`: prod bakes long enough for its alarms to judge the release, every other stage uses the
same mechanism with one-minute bakes, so each release proves itself in dev before prod. The limits are ECS's own
(aws-cdk-lib validates the same ranges): canary 0.1-100 %, linear 3-100 %, multiples of 0.1; bakes 0-1440 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .reader import ConfigError, Path, boolean, integer, number, text

STRATEGIES = ("rolling", "blue_green", "canary", "linear")
PROGRESSIVE = ("blue_green", "canary", "linear")
#: strategy -> (lowest, highest) step_percent ECS accepts.
STEP_LIMITS = {"canary": (0.1, 100.0), "linear": (3.0, 100.0)}
MAX_BAKE_MINUTES = 1440
#: (step bake, final bake) minutes when cdk.json does not say: production, then every other stage.
DEFAULT_BAKES = {True: (10, 10), False: (1, 1)}
DEFAULT_STEP_PERCENT = 10.0


@dataclass(frozen=True)
class DeploymentConfig:
    """The release strategy of one stage. `for_stage(production)` fills in the production-dependent defaults."""

    strategy: str = field(default="canary", metadata=text())
    step_percent: float | None = field(default=None, metadata=number())
    step_bake_minutes: int | None = field(default=None, metadata=integer())
    bake_minutes: int | None = field(default=None, metadata=integer())
    #: Circuit breaker with rollback: only ECS's rolling deployments have one.
    circuit_breaker: bool | None = field(default=None, metadata=boolean())
    #: Break-glass for a hotfix during an incident: the deployment alarms only notify and never roll this release
    #: back (the smoke-test hook still runs). For one release; set it back to false right after.
    break_glass: bool = field(default=False, metadata=boolean())

    @property
    def progressive(self) -> bool:
        return self.strategy in PROGRESSIVE

    def validate(self, where: Path) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(where("strategy"), f"one of {', '.join(STRATEGIES)}")
        if self.step_percent is not None:
            if self.strategy not in STEP_LIMITS:
                raise ConfigError(
                    where("step_percent"), f"only canary and linear shift traffic in steps, not {self.strategy}"
                )
            low, high = STEP_LIMITS[self.strategy]
            if not low <= self.step_percent <= high or round(self.step_percent * 10, 6) % 1:
                raise ConfigError(where("step_percent"), f"{self.strategy} steps are {low:g}-{high:g} %, in 0.1 steps")
        if self.step_bake_minutes is not None and self.strategy not in STEP_LIMITS:
            raise ConfigError(
                where("step_bake_minutes"), f"only canary and linear bake between steps, not {self.strategy}"
            )
        for key in ("step_bake_minutes", "bake_minutes"):
            value = getattr(self, key)
            if value is not None and not 0 <= value <= MAX_BAKE_MINUTES:
                raise ConfigError(where(key), f"minutes between 0 and {MAX_BAKE_MINUTES}")
        if self.bake_minutes is not None and self.strategy == "rolling":
            raise ConfigError(
                where("bake_minutes"), "a rolling deployment has no bake time (use canary, linear or blue_green)"
            )
        if self.circuit_breaker and self.strategy != "rolling":
            raise ConfigError(
                where("circuit_breaker"),
                f"ECS offers the circuit breaker with rolling deployments only, not {self.strategy} (its hook and "
                "deployment alarms roll it back)",
            )

    def for_stage(self, production: bool, where: str) -> DeploymentConfig:
        """This section with the defaults of a production or non-production stage filled in (`where`: the path of
        the stage's `deployment`, for the error)."""
        if production and not self.progressive:
            raise ConfigError(
                f"{where}.strategy",
                "production releases progressively (canary, linear or blue_green): tested before it takes traffic",
            )
        step_bake, bake = DEFAULT_BAKES[production]
        if not self.progressive:
            return replace(self, circuit_breaker=self.circuit_breaker is not False)
        stepped = self.strategy in STEP_LIMITS
        return replace(
            self,
            step_percent=(self.step_percent or DEFAULT_STEP_PERCENT) if stepped else None,
            step_bake_minutes=(step_bake if self.step_bake_minutes is None else self.step_bake_minutes)
            if stepped
            else None,
            bake_minutes=bake if self.bake_minutes is None else self.bake_minutes,
            circuit_breaker=False,
        )
