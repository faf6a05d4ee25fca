"""Small statistics helpers: the benchmarks report medians and spreads, never single samples."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(samples: Sequence[float]) -> dict:
    """median, min and max of repeated measurements."""
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


def summaries(repetitions: list[dict]) -> dict:
    """The same dict shape as each repetition's, with every number replaced by its summary() over the repetitions
    (and `each`: the values in order)."""
    first = repetitions[0]
    out = {}
    for key, value in first.items():
        values = [repetition[key] for repetition in repetitions]
        out[key] = summaries(values) if isinstance(value, dict) else {**summary(values), "each": values}
    return out
