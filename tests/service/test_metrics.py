"""The EMF lines of the task's download slots: valid per the spec, one per wall-clock window, the samples it took."""

from __future__ import annotations

import json

import pytest

from download_service import contract
from download_service.contract import SlotMetric
from download_service.metrics import MAX_VALUES, SlotMetrics, slot_document

from .emf import check_emf_line

NAMESPACE = "download-service/test"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _metrics(interval: int, in_use, start: float = 1_800_000_000.0):
    lines: list[str] = []
    clock = FakeClock(start)
    metrics = SlotMetrics(NAMESPACE, interval, total=56, in_use=in_use, write=lines.append, clock=clock)
    return metrics, clock, lines


def test_the_document_is_valid_emf_with_the_contract_names():
    document = check_emf_line(json.dumps(slot_document(NAMESPACE, 1_800_000_000_000, [0, 14, 56], 56)))
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [["ServiceName"]]
    assert document["ServiceName"] == contract.SERVICE_NAME
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        SlotMetric.IN_USE: "Count",
        SlotMetric.TOTAL: "Count",
        SlotMetric.UTILIZATION: "Percent",
    }
    assert document[SlotMetric.IN_USE] == [0, 14, 56]
    assert document[SlotMetric.TOTAL] == 56
    assert document[SlotMetric.UTILIZATION] == [0.0, 25.0, 100.0]
    assert document["event"] == contract.Event.SLOT_METRICS


def test_one_line_per_window_stamped_with_the_window_start():
    occupancy = iter([3, 4, 5, 9, 9])
    metrics, clock, lines = _metrics(60, lambda: next(occupancy), start=1_800_000_000.0)  # a window boundary
    for offset in (0.0, 1.0, 2.0):  # three samples in the first minute
        clock.now = 1_800_000_000.0 + offset
        metrics.tick()
    assert lines == []  # nothing before the window ends
    clock.now = 1_800_000_060.5  # the next minute: the first one is written, then sampled anew
    metrics.tick()
    (line,) = lines
    document = check_emf_line(line)
    assert document["_aws"]["Timestamp"] == 1_800_000_000_000
    assert document[SlotMetric.IN_USE] == [3, 4, 5]
    clock.now = 1_800_000_200.0  # two windows later: only the one with samples is written
    metrics.tick()
    assert [json.loads(x)[SlotMetric.IN_USE] for x in lines] == [[3, 4, 5], [9]]
    assert json.loads(lines[1])["_aws"]["Timestamp"] == 1_800_000_060_000


def test_ticks_more_often_than_a_second_take_one_sample_a_second():
    metrics, clock, lines = _metrics(60, lambda: 1)
    for step in range(50):  # 5 s of ticks every 100 ms (the master also wakes up on signals)
        clock.now = 1_800_000_000.0 + step / 10
        metrics.tick()
    clock.now = 1_800_000_061.0
    metrics.tick()
    assert json.loads(lines[0])[SlotMetric.IN_USE] == [1] * 5


@pytest.mark.parametrize("interval", [1, 2])
def test_short_intervals_still_write_every_window(interval):
    metrics, clock, lines = _metrics(interval, lambda: 2)
    for step in range(10 * interval):
        clock.now = 1_800_000_000.0 + step
        metrics.tick()
    assert len(lines) == 9  # every window that ended
    assert all(check_emf_line(line)[SlotMetric.IN_USE] for line in lines)


def test_no_more_values_than_emf_allows():
    metrics, clock, lines = _metrics(60, lambda: 0)
    metrics._sample_every = 0.0  # ticking as fast as a signal storm could
    for step in range(300):
        clock.now = 1_800_000_000.0 + step / 10
        metrics.tick()
    clock.now = 1_800_000_060.0
    metrics.tick()
    assert len(check_emf_line(lines[0])[SlotMetric.IN_USE]) == MAX_VALUES


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["_aws"].pop("Timestamp"),
        lambda d: d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0].append("Missing"),
        lambda d: d.__setitem__(SlotMetric.IN_USE, list(range(101))),
        lambda d: d.__setitem__(SlotMetric.TOTAL, "56"),
        lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].__setitem__("Unit", "Slots"),
        lambda d: d["_aws"]["CloudWatchMetrics"][0].__setitem__("Namespace", "AWS/ECS"),
    ],
)
def test_the_checker_rejects_what_the_spec_rejects(mutate):
    document = slot_document(NAMESPACE, 1_800_000_000_000, [1], 56)
    mutate(document)
    with pytest.raises((AssertionError, KeyError)):
        check_emf_line(json.dumps(document))
