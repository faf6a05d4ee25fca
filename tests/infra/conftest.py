"""One synthesized CDK app per test session, built exactly as `app.py` builds it from cdk.json."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk.assertions import Template

from app import Built, build, new_app
from stages.config import cdk_json_context


@dataclass
class Synth:
    app: cdk.App
    built: Built
    outdir: Path

    def template(self, stage: str, stack: str) -> Template:
        return Template.from_stack(getattr(self.built.stages[stage], stack))

    @property
    def stack_count(self) -> int:
        """Two stacks per service stage, plus the pipeline stack when cdk.json configures one."""
        return 2 * len(self.built.stages) + (self.built.pipeline is not None)

    def templates(self) -> dict[str, dict[str, Any]]:
        """Every synthesized stack template, by CloudFormation stack name."""
        found = {}
        for manifest in self.outdir.glob("**/manifest.json"):
            for artifact in json.loads(manifest.read_text())["artifacts"].values():
                if artifact["type"] == "aws:cloudformation:stack":
                    template = manifest.parent / artifact["properties"]["templateFile"]
                    name = artifact["properties"].get("stackName") or artifact["displayName"]
                    found[name] = json.loads(template.read_text())
        return found


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synth:
    app = new_app(context=context or cdk_json_context(), outdir=str(outdir))
    built = build(app)
    app.synth()
    return Synth(app=app, built=built, outdir=outdir)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """cdk.json's app, synthesized once (cdk-nag runs here: an unacknowledged finding fails every test)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def pipeline_template(synth: Synth) -> Template:
    assert synth.built.pipeline is not None, "cdk.json configures the pipeline"
    return Template.from_stack(synth.built.pipeline)


@pytest.fixture(scope="session")
def dev_stateless(synth: Synth) -> Template:
    return synth.template("dev", "stateless")


@pytest.fixture(scope="session")
def prod_stateless(synth: Synth) -> Template:
    return synth.template("prod", "stateless")


@pytest.fixture(scope="session")
def dev_stateful(synth: Synth) -> Template:
    return synth.template("dev", "stateful")


@pytest.fixture(scope="session")
def prod_stateful(synth: Synth) -> Template:
    return synth.template("prod", "stateful")


def only(resources: dict[str, Any]) -> dict[str, Any]:
    """The single resource of a `Template.find_resources` result (its properties)."""
    assert len(resources) == 1, sorted(resources)
    return next(iter(resources.values()))
