"""The EMF lines the real gunicorn master writes: valid per the spec, and tracking the task's real slots in use.

METRICS_INTERVAL_S is shortened through the variable production uses; every wait below is bounded.
"""

from __future__ import annotations

import json
import time

from devtools.gunicorn_server import GunicornServer
from download_service.contract import SLOT_DIMENSIONS, Event, SlotMetric
from download_service.settings import Settings
from tests.service.emf import check_emf_line

from .conftest import BIG_KEY, BUCKET

NAMESPACE = "download-service/integration"
INTERVAL_S = 2
HELD = 5


def _slot_lines(server: GunicornServer) -> list[dict]:
    lines = server.log_lines()  # complete lines only: this polls while the master writes
    return [check_emf_line(line) for line in lines if json.loads(line).get("event") == Event.SLOT_METRICS]


def _next_line(server: GunicornServer, after_ms: int, timeout: float = 5 * INTERVAL_S + 5) -> dict:
    """The first EMF line whose window starts after `after_ms`: its every sample was taken later than that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        later = [line for line in _slot_lines(server) if line["_aws"]["Timestamp"] > after_ms]
        if later:
            return later[0]
        time.sleep(0.25)
    raise AssertionError(f"no EMF line for a window after {after_ms} within {timeout} s")


def test_the_master_reports_the_tasks_slots_in_use(start_server, big_object):
    server = start_server(METRICS_NAMESPACE=NAMESPACE, METRICS_INTERVAL_S=str(INTERVAL_S))
    settings = Settings(files_bucket=BUCKET)
    total = settings.workers * settings.max_downloads_per_worker
    idle = _next_line(server, 0)
    (directive,) = idle["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [list(SLOT_DIMENSIONS)]
    assert {key: idle[key] for key in SLOT_DIMENSIONS} == SLOT_DIMENSIONS
    assert idle[SlotMetric.TOTAL] == total  # both workers' slots: one line for the task, not one per worker
    assert set(idle[SlotMetric.IN_USE]) == {0}

    held = server.stall_every_download_slot(f"/files/{BIG_KEY}", HELD)  # admitted on whichever worker
    admitted_ms = int(time.time() * 1000)
    try:
        busy = _next_line(server, admitted_ms)
        assert set(busy[SlotMetric.IN_USE]) == {HELD}
        assert set(busy[SlotMetric.UTILIZATION]) == {round(100 * HELD / total, 2)}
    finally:
        for sock, _ in held:
            sock.close()
    released_ms = int(time.time() * 1000) + 1000  # the server notices the closed sockets within a moment
    assert set(_next_line(server, released_ms)[SlotMetric.IN_USE]) == {0}
    stamps = [line["_aws"]["Timestamp"] for line in _slot_lines(server)]
    assert stamps == sorted(set(stamps))  # one line per window, in order
    assert all(stamp % (INTERVAL_S * 1000) == 0 for stamp in stamps)  # stamped with the window's start


def test_no_metric_lines_without_a_namespace(server):
    with server.urlopen("/health") as response:
        assert response.status == 200
    time.sleep(2.5)  # longer than a window of the test above: a line would have been written
    assert _slot_lines(server) == []
