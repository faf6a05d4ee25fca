"""Download slots: each worker's capacity, and each client's share of the whole task.

gunicorn's workers are separate processes. Counted in each worker alone, a per-client cap would let a client hold
WORKERS times its share, and no process would know the task's occupancy. So the counts live in one anonymous shared
mapping that the master creates before it forks (gunicorn.conf.py): one row per worker, holding [slots in use,
streams of client bucket 0, 1, ...]. Each row has one writer, its worker (under that worker's lock); readers sum the
rows without a lock, so two workers admitting the same client at the same instant may both succeed: the cap can be
exceeded by one stream per worker at most, never more. When a worker dies, even by SIGKILL, the master zeroes its
row, so the streams it held stop counting. Outside gunicorn (Flask's test client) a worker gets a private table.
"""

from __future__ import annotations

import hashlib
import mmap
import secrets
import threading
from typing import ClassVar

from .contract import Event

_CELL = 8  # bytes of one int64 counter
#: Client buckets: a client is counted in one (keyed hash of its address). Two clients share a bucket with
#: probability 1/BUCKETS, and then share one cap; with at most a few hundred streams per task that stays rare.
BUCKETS = 1024


class SlotTable:
    """Counters shared by a task's workers: MAP_SHARED | MAP_ANONYMOUS memory, inherited by every fork."""

    def __init__(self, rows: int, buckets: int = BUCKETS) -> None:
        self.rows, self.buckets = rows, buckets
        self._width = 1 + buckets
        self._memory = mmap.mmap(-1, rows * self._width * _CELL)
        self._cells = memoryview(self._memory).cast("q")
        # Keyed, so a client cannot pick an address that lands in another client's bucket.
        self._key = secrets.token_bytes(16)
        self._free = list(range(rows))  # master-side bookkeeping

    # --- the master: one row per live worker ------------------------------------------------------------------

    def claim_row(self) -> int | None:
        """A free row for a worker about to be forked; None when every row is taken."""
        return self._free.pop(0) if self._free else None

    def free_row(self, row: int) -> None:
        """The worker of `row` has exited: whatever it held is no longer held."""
        start = row * self._width * _CELL
        self._memory[start : start + self._width * _CELL] = bytes(self._width * _CELL)
        self._free.append(row)

    def in_use(self) -> int:
        """Slots taken in the whole task."""
        return sum(self._cells[row * self._width] for row in range(self.rows))

    # --- a worker -------------------------------------------------------------------------------------------------

    def bucket(self, client: str) -> int:
        digest = hashlib.blake2b(client.encode("utf-8", "replace"), key=self._key, digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.buckets

    def client_streams(self, bucket: int) -> int:
        """Streams of the clients in `bucket`, over every worker of the task."""
        return sum(self._cells[row * self._width + 1 + bucket] for row in range(self.rows))

    def add(self, row: int, bucket: int, delta: int) -> None:
        self._cells[row * self._width] += delta
        self._cells[row * self._width + 1 + bucket] += delta


_attached: tuple[SlotTable, int] | None = None


def attach(table: SlotTable, row: int | None) -> None:
    """Called in a freshly forked worker (gunicorn's post_fork): its row of the task's table. With no row left (more
    workers than rows), the worker keeps a private table and its streams count for itself only."""
    global _attached
    _attached = (table, row) if row is not None else None


class SlotRefusedError(Exception):
    """No slot for this request: `event` says why (Event.BUSY or Event.CLIENT_LIMIT), `reason` is for the log,
    `answer` for the client, with `status`: 503 when the worker is at capacity (the server cannot take more), 429
    when this client already holds its share (RFC 6585 §4: "the user has sent too many requests"), both with
    Retry-After. Neither is a server error: the access log marks the line (`refused`), and no error metric counts it."""

    _ANSWERS: ClassVar[dict[str, tuple[int, str, str]]] = {
        Event.BUSY: (503, "download refused: worker at capacity", "server busy, retry later"),
        Event.CLIENT_LIMIT: (
            429,
            "download refused: the client holds its share of the task's download slots",
            "too many concurrent downloads from this client, retry later",
        ),
    }

    def __init__(self, event: str) -> None:
        super().__init__(event)
        self.event = event
        self.status, self.reason, self.answer = self._ANSWERS[event]


class Slot:
    """One admitted download or HEAD; release() gives the slot back, once, however often it is called."""

    def __init__(self, admission: Admission, bucket: int) -> None:
        self._admission, self._bucket = admission, bucket
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._release(self._bucket)


class Admission:
    """At most `capacity` slots in this worker, and at most `per_client` streams per client in the task."""

    def __init__(self, capacity: int, per_client: int) -> None:
        self.capacity, self.per_client = capacity, per_client
        self._table, self._row = _attached or (SlotTable(rows=1), 0)
        self._lock = threading.Lock()
        self._in_use = 0

    @property
    def in_use(self) -> int:
        return self._in_use

    def acquire(self, client: str) -> Slot:
        """A slot for `client`, or SlotRefusedError."""
        bucket = self._table.bucket(client)
        with self._lock:
            if self._in_use >= self.capacity:
                raise SlotRefusedError(Event.BUSY)
            if self._table.client_streams(bucket) >= self.per_client:
                raise SlotRefusedError(Event.CLIENT_LIMIT)
            self._in_use += 1
            self._table.add(self._row, bucket, 1)
        return Slot(self, bucket)

    def _release(self, bucket: int) -> None:
        with self._lock:
            self._in_use -= 1
            self._table.add(self._row, bucket, -1)
