"""The tree's shape, as the architecture issue settled it: dependencies point one way, modules stay small, every
construct takes the config section it needs, and cdk.json says only what differs from the defaults."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import typing
from pathlib import Path

import pytest
from constructs import Construct

import stages
from stages.config import CONTEXT_KEY, StageConfig, cdk_json_context
from stages.config.reader import defaults_of

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("src", "stages", "pipeline", "canary", "devtools", "benchmarks", "loadtest")
MAX_MODULE_LINES = 300
#: Where a whole StageConfig may go: the stage itself, the stack that wires its units, and the pipeline, which
#: builds one ServiceStage per stage it deploys.
COMPOSITION = {"ServiceStage", "StatelessStack", "PipelineStack"}


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", _modules("stages"), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_stages_import_neither_the_pipeline_nor_the_composition_root(path: Path) -> None:
    upward = {name for name in _imports(path) if name.split(".")[0] in {"pipeline", "app"}}
    assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}"


def test_no_product_module_is_over_300_lines() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): lines
        for path in [*_modules(*PRODUCT), ROOT / "app.py"]
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long


def _constructs() -> list[type]:
    found = []
    for package in (stages, importlib.import_module("pipeline")):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            found += [
                value
                for value in vars(module).values()
                if inspect.isclass(value) and issubclass(value, Construct) and value.__module__ == module.__name__
            ]
    return found


def test_every_construct_takes_config_sections_not_the_whole_stage_config() -> None:
    constructs = _constructs()
    assert {"Network", "Edge", "Service", "Monitoring", "Storage", "Canary"} <= {c.__name__ for c in constructs}
    whole = set()
    for construct in constructs:
        hints = typing.get_type_hints(construct.__init__)
        if any(StageConfig in (hint, *typing.get_args(hint)) for hint in hints.values()):
            whole.add(construct.__name__)
    assert whole == COMPOSITION


def test_cdk_json_sets_only_what_differs_from_the_defaults() -> None:
    root = cdk_json_context()[CONTEXT_KEY]
    built_in = defaults_of(StageConfig)
    shared = root.get("defaults", {})
    redundant = [f"defaults.{key}" for key, value in shared.items() if built_in.get(key) == value]
    for name, own in root["stages"].items():
        inherited = {**built_in, **shared}
        redundant += [f"stages.{name}.{key}" for key, value in own.items() if inherited.get(key) == value]
    assert not redundant
