#!/usr/bin/env python3
"""The CDK app's composition root (`cdk.json` runs it): reads the `download-service` context, builds the pipeline
stack (which owns the stages it deploys), a top-level ServiceStage for every other stage (the sandbox), the
optional Dns stack, and cdk-nag over all of it.

`main` is what `cdk synth` runs; the infra tests call `build` on an App of their own, so they check exactly what
`cdk synth` renders. Dependencies point one way: this module imports `pipeline/` and `stages/`, `pipeline/`
imports `stages/`, and `stages/` imports neither.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The stages import the service's platform contract (src/download_service/contract.py).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from pipeline.config import PipelineConfig, load_pipeline
from stages.config import CONTEXT_KEY, ConfigError, StageConfig, load_stages
from stages.config.reader import mapping, no_unknown_keys
from stages.dns.config import DnsConfig, load_dns

if TYPE_CHECKING:
    from aws_cdk import App

    from pipeline.pipeline_stack import PipelineStack
    from stages import ServiceStage
    from stages.dns import DnsStack


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


def load(context: Mapping[str, Any] | None) -> AppConfig:
    """Validate the `download-service` context value and return the typed config (raises ConfigError)."""
    if context is None:
        raise ConfigError(CONTEXT_KEY, "missing from the cdk.json context")
    root = mapping(context, CONTEXT_KEY)
    no_unknown_keys(root, {"defaults", "stages", "dns", "pipeline"}, "")
    stages = load_stages(root)
    for name, stage in stages.items():
        _known_region(stage.region, f"stages.{name}.region" if "region" in root["stages"][name] else "defaults.region")
    dns = load_dns(root["dns"]) if "dns" in root else None
    if dns is not None:
        _known_region(dns.region, "dns.region")
    pipeline = load_pipeline(root["pipeline"], stages) if "pipeline" in root else None
    if pipeline is not None:
        _known_region(pipeline.region, "pipeline.connection_arn")
    return AppConfig(stages=stages, dns=dns, pipeline=pipeline)


def known_regions() -> set[str]:
    """Every region of every partition in the AWS SDK's endpoint data. aws-cdk-lib derives each ARN's partition from
    the region, and one it does not know fails deep in jsii; botocore lists the same regions (tests/infra/test_config.py
    keeps the two equal) and reads them without starting the CDK's Node runtime, which `load` must not need."""
    from botocore.loaders import create_loader

    return {
        region for partition in create_loader().load_data("endpoints")["partitions"] for region in partition["regions"]
    }


def _known_region(region: str, path: str) -> None:
    if region not in known_regions():
        raise ConfigError(path, f"{region!r} is not a known AWS region: check its name (aws ec2 describe-regions)")


@dataclass
class Built:
    config: AppConfig
    #: Every stage, wherever it lives: top level (sandbox) or inside the pipeline stack (dev, prod).
    stages: dict[str, ServiceStage] = field(default_factory=dict)
    dns: DnsStack | None = None
    pipeline: PipelineStack | None = None


def new_app(**kwargs: Any) -> App:
    """The CDK App, without CDK's built-in CloudFormation validation: it costs ~10 s per synth on this machine,
    and tests/infra runs cfn-lint over every template with a stricter policy (0 errors, 0 warnings but W3005).

    The CDK is imported here and in `build`, not at the top: `load` (make bootstrap reads the config with it) then
    runs without starting the CDK's Node runtime."""
    from aws_cdk import App

    return App(builtin_cloud_formation_validation=False, **kwargs)


def build(app: App) -> Built:
    """Add every stage of the config in `app`'s context to `app`. Raises ConfigError before creating anything."""
    from aws_cdk import Environment

    from pipeline.pipeline_stack import PIPELINE_STACK_ID, PipelineStack
    from stages import ServiceStage
    from stages.common import nag
    from stages.dns import DnsStack

    config = load(app.node.try_get_context(CONTEXT_KEY))
    nag.add_checks(app)
    built = Built(config=config)
    if config.pipeline is not None:
        built.pipeline = PipelineStack(
            app,
            PIPELINE_STACK_ID,
            config=config.pipeline,
            stages=[config.stages[name] for name in config.pipeline.stages],
            env=Environment(account=config.pipeline.account, region=config.pipeline.region),
        )
        built.stages.update({stage.config.name: stage for stage in built.pipeline.stages})
    # Only the stages the pipeline does not deploy: the same stage twice would collide (Dev-Stateful twice).
    for name, stage in config.sandbox_stages.items():
        built.stages[name] = ServiceStage(app, stage)
    if config.dns is not None:
        built.dns = DnsStack(
            app, "Dns", config=config.dns, env=Environment(account=config.dns.account, region=config.dns.region)
        )
    return built


def main() -> None:
    app = new_app()
    try:
        build(app)
    except ConfigError as error:
        sys.exit(str(error))  # one line naming the field, no stack trace
    app.synth()


if __name__ == "__main__":
    main()
