"""Wires the CDK app from cdk.json: the pipeline stack (which owns the stages it deploys), a top-level
ServiceStage for every other stage (the sandbox), the optional Dns stack, cdk-nag.

`app.py` calls `build`; the infra tests call it too, so they check exactly what `cdk synth` renders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import App, Environment

from .common import nag
from .config import CONTEXT_KEY, AppConfig, load
from .dns import DnsStack
from .stage import ServiceStage

if TYPE_CHECKING:
    from pipeline.pipeline_stack import PipelineStack

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


@dataclass
class Built:
    config: AppConfig
    #: Every stage, wherever it lives: top level (sandbox) or inside the pipeline stack (dev, prod).
    stages: dict[str, ServiceStage] = field(default_factory=dict)
    dns: DnsStack | None = None
    pipeline: PipelineStack | None = None


def new_app(**kwargs: Any) -> App:
    """The CDK App, without CDK's built-in CloudFormation validation: it costs ~10 s per synth on this machine,
    and tests/infra runs cfn-lint over every template with a stricter policy (0 errors, 0 warnings but W3005)."""
    return App(builtin_cloud_formation_validation=False, **kwargs)


def build(app: App) -> Built:
    """Add every stage of the config in `app`'s context to `app`. Raises ConfigError before creating anything."""
    config = load(app.node.try_get_context(CONTEXT_KEY))
    nag.add_checks(app)
    built = Built(config=config)
    if config.pipeline is not None:
        from pipeline.pipeline_stack import PIPELINE_STACK_ID, PipelineStack

        built.pipeline = PipelineStack(
            app,
            PIPELINE_STACK_ID,
            config=config,
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


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The `context` of cdk.json (feature flags + config), as the CDK CLI would pass it to the app."""
    return json.loads(path.read_text())["context"]
