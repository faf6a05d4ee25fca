"""The task's download slots as CloudWatch embedded metric format (EMF) lines, written by the gunicorn master.

Only the master sees every worker's slots (slots.SlotTable), so it writes one line per task and interval: no
worker-level series to add up, and Average/Maximum across tasks mean what they say. It samples on every turn of
its main loop (about once a second) and writes the samples of each wall-clock window of `interval_s` as one line
whose Timestamp is the window's start, so each one-minute CloudWatch period gets exactly one line per task. The
awslogs driver ships stdout to the log group, where CloudWatch Logs extracts the metrics.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from .contract import SLOT_DIMENSIONS, Event, SlotMetric

#: EMF's limit on the values of one metric in one document.
MAX_VALUES = 100


def slot_document(namespace: str, timestamp_ms: int, in_use: list[int], total: int, extra: dict | None = None) -> dict:
    """One EMF document: in-use samples, the task's total and the utilisation samples in percent."""
    utilization = [round(100.0 * used / total, 2) if total else 0.0 for used in in_use]
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(SLOT_DIMENSIONS)],
                    "Metrics": [
                        {"Name": SlotMetric.IN_USE, "Unit": "Count"},
                        {"Name": SlotMetric.TOTAL, "Unit": "Count"},
                        {"Name": SlotMetric.UTILIZATION, "Unit": "Percent"},
                    ],
                }
            ],
        },
        **SLOT_DIMENSIONS,
        SlotMetric.IN_USE: in_use,
        SlotMetric.TOTAL: total,
        SlotMetric.UTILIZATION: utilization,
        # Not metrics: what lets Logs Insights and metric filters tell these lines apart from the access log.
        "event": Event.SLOT_METRICS,
        **(extra or {}),
    }


class SlotMetrics:
    """tick() from the master's loop; writes a line when a window has ended."""

    def __init__(
        self,
        namespace: str,
        interval_s: int,
        total: int,
        in_use: Callable[[], int],
        extra: dict | None = None,
        write: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._namespace, self._interval, self._total = namespace, interval_s, total
        self._in_use, self._extra = in_use, extra
        self._write = write or _stdout_line
        self._clock = clock
        self._window = self._window_of(clock())
        self._samples: list[int] = []
        self._sampled_at = float("-inf")
        self._sample_every = min(1.0, interval_s / 2)

    def _window_of(self, now: float) -> int:
        return int(now // self._interval)

    def tick(self) -> None:
        now = self._clock()
        window = self._window_of(now)
        if window != self._window:
            if self._samples:
                self._emit(self._window * self._interval)
            self._window, self._samples = window, []
        if now - self._sampled_at >= self._sample_every and len(self._samples) < MAX_VALUES:
            self._samples.append(self._in_use())
            self._sampled_at = now

    def _emit(self, window_start_s: int) -> None:
        document = slot_document(self._namespace, window_start_s * 1000, self._samples, self._total, self._extra)
        self._write(json.dumps(document, separators=(",", ":")))


def _stdout_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
