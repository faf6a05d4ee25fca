"""One synthesized CDK app per test session, built exactly as `app.py` builds it from cdk.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import Built, build, new_app
from stages.config import cdk_json_context

WARNING = "aws:cdk:warning"


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

    def warnings(self, stack: cdk.Stack) -> list[str]:
        """The synth warnings recorded for `stack`, read from the assembly this fixture already wrote.

        Not `Annotations.from_stack`: it re-synthesizes the whole app (`root.synth({force: true})`), cdk-nag and
        asset staging included, on every call, mid-suite and into the same output directory; the two tests that
        used it were the ones that failed under load. The assembly on disk is what `cdk synth` printed."""
        for manifest in self.outdir.glob("**/manifest.json"):
            for artifact in json.loads(manifest.read_text())["artifacts"].values():
                if artifact.get("displayName") != stack.node.path:
                    continue
                metadata = json.loads((manifest.parent / artifact["additionalMetadataFile"]).read_text())
                return [entry["data"] for entries in metadata.values() for entry in entries if entry["type"] == WARNING]
        raise AssertionError(f"{stack.node.path} is not in {self.outdir}")

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


#: The recommended layout: the pipeline in a tooling account, dev (and the sandbox) and prod in their own.
THREE_ACCOUNTS = Path(__file__).resolve().parents[2] / "examples" / "three-accounts.json"


def three_accounts_context() -> dict[str, Any]:
    """cdk.json's context with the example's `download-service` section, as `cdk synth` would use it."""
    context = cdk_json_context()
    context.update(json.loads(THREE_ACCOUNTS.read_text()))
    return context


@pytest.fixture(scope="session")
def three_accounts(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """examples/three-accounts.json, synthesized once with cdk.json's feature flags."""
    return synthesize(tmp_path_factory.mktemp("three-accounts"), three_accounts_context())


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
