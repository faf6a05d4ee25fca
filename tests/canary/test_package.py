"""canary/ runs where nothing can be installed (AWS Lambda's and CloudWatch Synthetics' Python runtimes): its
modules import only the standard library and each other at import time, and import so without site-packages."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "canary").glob("*.py"))


def _module_level_imports(path: Path) -> set[str]:
    """Top-level package names imported outside any function (a function's own imports run only when called)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_import_only_the_standard_library_and_canary(path):
    assert _module_level_imports(path) - set(sys.stdlib_module_names) - {"__future__", "canary"} == set()


def test_the_package_imports_without_site_packages():
    # -S: no site-packages, so a third-party import at module level would fail here as it would in the runtimes.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import canary.hook, canary.probe; print(canary.hook.HOOK_STAGE)"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(ROOT)], capture_output=True, text=True, timeout=30, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "POST_TEST_TRAFFIC_SHIFT\n", "")
