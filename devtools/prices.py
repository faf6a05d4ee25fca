"""The list prices of devtools/prices.toml, one region at a time: what `make cost` (devtools/cost.py) reads."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parent / "prices.toml"


class NoPricesError(LookupError):
    """devtools/prices.toml has no (or not every) price of a region; the message is one line."""


def load_prices(region: str, path: Path = PRICES) -> dict[str, Any]:
    """{price name: USD} of `region`, with "hours" and "region"; raises NoPricesError."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    regions = [name for name in data if name not in ("units", "hours_per_month")]
    if region not in regions:
        raise NoPricesError(
            f"make cost: no prices for {region} in {path.name} (it has {', '.join(regions)}): add that region's "
            "figures, each with its source and date"
        )
    missing = sorted(set(data["units"]) - set(data[region]))
    if missing:
        raise NoPricesError(f"make cost: {path.name} has no {region} price for {', '.join(missing)}")
    return {"hours": data["hours_per_month"], "region": region,
            **{name: entry["usd"] for name, entry in data[region].items()}}  # fmt: skip


def borrowed(region: str, path: Path = PRICES) -> dict[str, str]:
    """{price name: the region it was read for} of `region`'s figures not yet read for it."""
    entries = tomllib.loads(path.read_text(encoding="utf-8"))[region]
    return {name: entry["read_for"] for name, entry in entries.items() if "read_for" in entry}
