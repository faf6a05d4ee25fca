"""Wires the CDK app from cdk.json: one ServiceStage per configured stage, the optional Dns stack, cdk-nag.

`app.py` calls `build`; the infra tests call it too, so they check exactly what `cdk synth` renders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from . import nag
from .config import CONTEXT_KEY, AppConfig, load
from .dns import DnsStack
from .service_stage import ServiceStage

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


@dataclass
class Built:
    config: AppConfig
    stages: dict[str, ServiceStage] = field(default_factory=dict)
    dns: DnsStack | None = None


def new_app(**kwargs: Any) -> App:
    """The CDK App, without CDK's built-in CloudFormation validation: it costs ~10 s per synth on this machine,
    and tests/infra runs cfn-lint over every template with a stricter policy (0 errors, 0 warnings but W3005)."""
    return App(builtin_cloud_formation_validation=False, **kwargs)


def build(app: App) -> Built:
    """Add every stage of the config in `app`'s context to `app`. Raises ConfigError before creating anything."""
    config = load(app.node.try_get_context(CONTEXT_KEY))
    nag.add_checks(app)
    built = Built(config=config)
    for name, stage in config.stages.items():
        built.stages[name] = ServiceStage(app, stage)
    if config.dns is not None:
        built.dns = DnsStack(
            app, "Dns", config=config.dns, env=Environment(account=config.dns.account, region=config.dns.region)
        )
    return built


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The `context` of cdk.json (feature flags + config), as the CDK CLI would pass it to the app."""
    return json.loads(path.read_text())["context"]
