"""Dated, justified exceptions to a security gate, in one TOML format for every gate that accepts them:
`requirements/audit-exceptions.toml` (pip-audit, devtools/scan.py) and `requirements/image-allowlist.toml` (the
image scan, devtools/image_gate.py).

    [[exception]]
    id = "CVE-2026-12345"        # the finding's id; for pip-audit an alias matches too
    package = "openssl"
    reason = "why it cannot be fixed yet and why it does not matter here"
    accepted = 2026-01-15        # TOML dates, at most 90 days apart
    expires = 2026-04-15

An entry applies up to and including its `expires` day; after that it is ignored (and named), so the finding fails
its gate again until the dependency is fixed or the entry is reviewed and renewed.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MAX_DAYS = 90


@dataclass(frozen=True)
class DatedException:
    id: str
    package: str
    reason: str
    accepted: dt.date
    expires: dt.date


def load(path: Path) -> list[DatedException]:
    """The file's entries. A malformed entry is an error, not a silent pass."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = []
    for raw in data.get("exception", []):
        entry = DatedException(
            id=str(raw["id"]),
            package=str(raw["package"]).lower(),
            reason=str(raw["reason"]).strip(),
            accepted=raw["accepted"],
            expires=raw["expires"],
        )
        if not entry.reason or not isinstance(entry.accepted, dt.date) or not isinstance(entry.expires, dt.date):
            raise ValueError(f"{path.name}: {entry.id} needs a reason and TOML dates for accepted and expires")
        if entry.expires <= entry.accepted or (entry.expires - entry.accepted).days > MAX_DAYS:
            raise ValueError(f"{path.name}: {entry.id} must expire within {MAX_DAYS} days of being accepted")
        entries.append(entry)
    return entries


def in_force(entries: Iterable[DatedException], today: dt.date) -> set[tuple[str, str]]:
    """(package, id) of the entries that still apply today."""
    return {(e.package, e.id) for e in entries if e.expires >= today}


def expiry_notices(entries: Iterable[DatedException], today: dt.date, *, gate: str) -> list[str]:
    """One line per expired entry: it no longer applies, which the gate's output should say."""
    return [
        f"{gate}: exception {e.id} ({e.package}) expired on {e.expires}: no longer applied"
        for e in entries
        if e.expires < today
    ]
