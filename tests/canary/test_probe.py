"""The Synthetics probe: passes on the service, raises naming the failed checks when its S3 or the whole service is
down, and on a configuration it cannot use."""

from __future__ import annotations

import re

import pytest

from canary import probe
from tests.canary.support import CANARY_SHA256, canary_target, log_lines


def environ_for(base_url: str) -> dict[str, str]:
    return {"PROBE_BASE_URL": base_url, "OBJECT_KEY": canary_target(base_url).key, "OBJECT_SHA256": CANARY_SHA256}


def test_the_probe_passes_on_the_service(service_url, capsys):
    assert probe.handler({}, None, environ_for(service_url)) == "4 checks passed: health, download, head, range"
    assert log_lines(capsys) == [{"event": "probe", "passed_checks": list(probe.PROBE_CHECKS), "failed_checks": []}]


def test_the_probe_raises_naming_the_object_checks_when_s3_is_down(s3_down_url, capsys):
    with pytest.raises(probe.ProbeError) as raised:
        probe.handler({}, None, environ_for(s3_down_url))
    message = str(raised.value)
    assert message.startswith("failed checks: download (GET object: expected 200, got 503 (error 'storage unavailable")
    assert re.findall(r"(?:^failed checks: |; )(\w+) \(", message) == ["download", "head", "range"]
    [line] = log_lines(capsys)
    assert line["passed_checks"] == ["health"]


def test_the_probe_raises_when_the_service_is_gone(closed_url):
    with pytest.raises(probe.ProbeError, match=r"^failed checks: health \(no answer: ConnectionRefusedError"):
        probe.handler({}, None, environ_for(closed_url))


def test_the_probe_reads_the_process_environment_and_names_what_is_missing(monkeypatch, service_url):
    for name, value in environ_for(service_url).items():
        monkeypatch.setenv(name, value)
    assert probe.handler({}, None).startswith("4 checks passed")
    monkeypatch.delenv("PROBE_BASE_URL")
    with pytest.raises(probe.ProbeError, match=r"^probe configuration: PROBE_BASE_URL is not set$"):
        probe.handler({}, None)
