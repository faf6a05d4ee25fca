"""The synthetic probe: a current Synthetics runtime on the image's Python minor."""

from __future__ import annotations

from stages.probe import RUNTIME_NAME
from tests.devtools.test_runtimes import image_python_minor
from tests.infra.conftest import Synth

#: syn-python-selenium-14.0 runs Python 3.12 (its "Major dependencies"):
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Library_python_selenium.html
RUNTIME_PYTHON = {"syn-python-selenium-14.0": "3.12"}


def canaries(synth: Synth) -> dict[str, dict]:
    return {
        f"{stack}/{name}": resource["Properties"]
        for stack, template in synth.templates().items()
        for name, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::Synthetics::Canary"
    }


def test_every_probe_runs_the_newest_python_runtime_by_name(synth: Synth) -> None:
    found = canaries(synth)
    assert found, "every stage has a probe"
    assert {properties["RuntimeVersion"] for properties in found.values()} == {RUNTIME_NAME}
    assert RUNTIME_PYTHON[RUNTIME_NAME] == image_python_minor(), "the probe runs the checks on the image's Python"
