"""Acceptance checks a deployment must pass before it takes traffic: run by the pipeline after dev and prod.

The checks themselves live in canary/checks.py, the one copy the release hook and the probe run too; this suite
runs every one of them, one test each, against the `target` of conftest.py.
"""

from __future__ import annotations

import pytest

from canary import checks


@pytest.mark.parametrize("name", checks.CHECK_NAMES)
def test_deployment_passes(target, name: str) -> None:
    result = checks.CHECKS[name](target)
    assert result == checks.CheckResult(name, True, "ok"), result.detail
