"""The pipeline's section of `cdk.json` (`download-service.pipeline`), typed and validated like the stages'."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stages.config import StageConfig
from stages.config.reader import ConfigError, keys_of, mapping, no_unknown_keys, read_section, string_list, text
from stages.config.sections import EMAIL

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^(?!/|.*//|.*\.\.|.*@\{|.*\.lock$|.*/$)[A-Za-z0-9._/-]{1,200}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:(?:codeconnections|codestar-connections):"
    r"(?P<region>[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d):(?P<account>\d{12}):"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


@dataclass(frozen=True)
class PipelineConfig:
    """The self-mutating pipeline: where it reads the code and which stages it deploys, in order.

    The pipeline lives where its CodeConnections connection lives (a connection serves its own account and region
    only), so `account` and `region` are read from `connection_arn`. The first stage deploys on every push; each
    later stage waits for a manual approval.
    """

    repository: str = field(metadata=text(_REPOSITORY, "a GitHub repository as owner/repo"))
    connection_arn: str = field(
        metadata=text(
            _CONNECTION_ARN,
            "a CodeConnections ARN (arn:aws:codeconnections:<region>:<account>:connection/<uuid>; "
            "create the connection first, see README)",
        )
    )
    stages: tuple[str, ...] = field(default=(), metadata=string_list())
    branch: str = field(default="main", metadata=text(_BRANCH, "a git branch name such as main"))
    notification_email: str | None = field(default=None, metadata=text(EMAIL, "an e-mail address"))

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

    def validate(self, path: Any) -> None:
        if not self.stages:
            raise ConfigError(path("stages"), 'list the stages the pipeline deploys, in order (e.g. ["dev", "prod"])')
        if len(set(self.stages)) != len(self.stages):
            raise ConfigError(path("stages"), "a stage can appear only once")


def load_pipeline(raw: Any, stages: Mapping[str, StageConfig]) -> PipelineConfig:
    """`download-service.pipeline`; every stage it names must be one of `stages`."""
    values = mapping(raw, "pipeline")
    no_unknown_keys(values, keys_of(PipelineConfig), "pipeline.")
    config = read_section(PipelineConfig, values, lambda key: f"pipeline.{key}")
    for name in config.stages:
        if name not in stages:
            raise ConfigError("pipeline.stages", f"{name!r} is not a stage in `stages` ({', '.join(stages)})")
        region = stages[name].region
        if region != config.region:
            # CDK Pipelines would add a support stack with a replication bucket per other region: not set up here.
            raise ConfigError(
                "pipeline.connection_arn",
                f"the pipeline runs in {config.region} (its connection's region) but stage {name!r} is in {region}: "
                f"use a connection in {region}, or keep the stage in {config.region}",
            )
    return config
