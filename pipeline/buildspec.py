"""buildspec.yml, parsed once for its three readers: the pipeline's Synth step, the PR-validation project and
`make ci`. Plain Python (no CDK) and strict: an unsupported key fails loudly instead of being silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BUILDSPEC = Path(__file__).resolve().parent.parent / "buildspec.yml"

#: CodeBuild's phases, in the order CodeBuild runs them.
PHASES = ("install", "pre_build", "build", "post_build")
_TOP_LEVEL = {"version", "env", "phases", "reports"}
_PHASE_KEYS = {"runtime-versions", "commands"}


class BuildspecError(ValueError):
    """buildspec.yml has a shape this project does not support; the message names the key."""


@dataclass(frozen=True)
class Buildspec:
    runtime_versions: dict[str, str]
    variables: dict[str, str]
    phases: dict[str, tuple[str, ...]]  # phase -> commands, only the phases present, in PHASES order
    reports: dict[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def install_commands(self) -> list[str]:
        return list(self.phases.get("install", ()))

    @property
    def commands(self) -> list[str]:
        """Everything after install, in order: what the pipeline's Synth step runs as its build commands."""
        return [command for phase in PHASES[1:] for command in self.phases.get(phase, ())]

    def partial_build_spec(self) -> dict[str, Any]:
        """What CodeBuildStep cannot express as arguments: runtime versions and report groups."""
        spec: dict[str, Any] = {}
        if self.runtime_versions:
            spec["phases"] = {"install": {"runtime-versions": dict(self.runtime_versions)}}
        if self.reports:
            spec["reports"] = self.reports
        return spec


def load(path: Path = BUILDSPEC) -> Buildspec:
    return parse(path.read_text(), source=path.name)


def parse(text: str, *, source: str = "buildspec.yml") -> Buildspec:
    raw = yaml.safe_load(text)
    if not isinstance(raw, Mapping):
        raise BuildspecError(f"{source}: must be a mapping")
    if str(raw.get("version")) != "0.2":
        raise BuildspecError(f"{source}: version: must be 0.2")
    for key in raw:
        if key not in _TOP_LEVEL:
            raise BuildspecError(f"{source}: {key}: not supported here (known: {', '.join(sorted(_TOP_LEVEL))})")
    env = raw.get("env") or {}
    if set(env) - {"variables"}:
        raise BuildspecError(f"{source}: env: only `variables` is supported")
    variables = {str(k): str(v) for k, v in (env.get("variables") or {}).items()}
    phases_raw = raw.get("phases") or {}
    phases: dict[str, tuple[str, ...]] = {}
    runtime_versions: dict[str, str] = {}
    for name, body in phases_raw.items():
        if name not in PHASES:
            raise BuildspecError(f"{source}: phases.{name}: not a CodeBuild phase ({', '.join(PHASES)})")
        body = body or {}
        if set(body) - _PHASE_KEYS:
            unknown = ", ".join(sorted(set(body) - _PHASE_KEYS))
            raise BuildspecError(f"{source}: phases.{name}: unsupported keys {unknown}")
        if "runtime-versions" in body:
            if name != "install":
                raise BuildspecError(f"{source}: phases.{name}.runtime-versions: only the install phase has them")
            runtime_versions = {str(k): str(v) for k, v in body["runtime-versions"].items()}
        commands = body.get("commands") or []
        if not all(isinstance(command, str) for command in commands):
            raise BuildspecError(f"{source}: phases.{name}.commands: must be a list of strings")
        phases[name] = tuple(commands)
    if not any(phases.values()):
        raise BuildspecError(f"{source}: phases: no commands")
    ordered = {name: phases[name] for name in PHASES if name in phases}
    return Buildspec(
        runtime_versions=runtime_versions,
        variables=variables,
        phases=ordered,
        reports=dict(raw.get("reports") or {}),
        raw=raw,
    )
