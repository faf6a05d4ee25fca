"""The capacity model (stages/capacity.py) is what the stages scale by and what docs/performance.md shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from download_service.settings import Settings
from stages import capacity
from stages.config.sections import FARGATE_MEMORY_MIB, TasksConfig

DOCS = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
_TABLE = re.compile(r"<!-- python -m stages.capacity --markdown -->\n(.*?)\n<!-- end -->", re.DOTALL)


def test_the_default_request_target_is_derived_from_the_model() -> None:
    assert TasksConfig().requests_per_target == capacity.requests_per_target()


def test_the_stages_scale_on_the_models_targets() -> None:
    from stages import service  # the CDK: only for this test

    assert service.SLOT_UTILIZATION_TARGET == capacity.SLOT_UTILIZATION_TARGET
    assert service.CPU_TARGET_PERCENT == capacity.CPU_TARGET_PERCENT


def test_slots_per_task_are_the_services() -> None:
    settings = Settings(files_bucket="capacity-model")
    assert capacity.SLOTS_PER_TASK == settings.workers * settings.max_downloads_per_worker == 56


def test_the_docs_table_is_the_models_output() -> None:
    match = _TABLE.search(DOCS.read_text())
    assert match, "docs/performance.md lost its capacity table markers"
    assert match.group(1) == capacity.markdown()


def test_every_measured_transport_has_figures() -> None:
    assert set(capacity.MEASURED) == {
        "s3-http client-http",
        "s3-http client-tls",
        "s3-https client-http",
        capacity.PRODUCTION,
    }
    for transport in capacity.MEASURED.values():
        assert 0 < transport.cpu_s_per_gib <= transport.cpu_s_per_gib_max
        assert transport.cpu_ms_per_request > 0
    assert capacity.TLS_HANDSHAKE_MS > 0


def test_every_input_says_which_shape_it_came_from() -> None:
    # make bench prints, per transport, the costlier of its large objects' shapes and clients (benchmarks/report.py):
    # single-part or multipart, curl or python, and the costlier client per small request.
    assert set(capacity.MEASURED_SHAPE) == set(capacity.MEASURED)
    for shape in capacity.MEASURED_SHAPE.values():
        assert re.fullmatch(r"(single-part|multipart) \d+ MiB, (curl|python); per request: (curl|python)", shape), shape


@pytest.mark.parametrize(
    ("cpu", "gib_s", "requests_s", "requests_s_full"),
    [
        (256, 0.25, 62.5, 125.0),  # a quarter vCPU: half of it at the 50 % target
        (1024, 1.0, 250.0, 500.0),
        (4096, 4.0, 1000.0, 1000.0),  # two workers, one interpreter lock each: at most 2 cores answer requests
    ],
)
def test_the_arithmetic(cpu: int, gib_s: float, requests_s: float, requests_s_full: float) -> None:
    row = capacity.task_capacity(
        cpu, capacity.Transport(cpu_s_per_gib=0.5, cpu_s_per_gib_max=0.6, cpu_ms_per_request=2)
    )
    assert row.gib_s_at_target == pytest.approx(gib_s)
    assert row.gib_s_full == pytest.approx(2 * gib_s)
    assert row.requests_s_at_target == pytest.approx(requests_s)
    assert row.requests_s_full == pytest.approx(requests_s_full)
    # Slots reach 70 % of 56 (39.2 streams) before CPU reaches its target when each client is slower than this.
    assert row.slot_bound_below_mib_s == pytest.approx(gib_s * 1024 / 39.2)


def test_the_table_covers_every_offered_task_size() -> None:
    rows = capacity.markdown().splitlines()[2:]
    assert [int(row.split("|")[1]) for row in rows] == list(FARGATE_MEMORY_MIB)
