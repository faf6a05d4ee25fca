"""Closes downloads whose client stopped reading, so a stalled client cannot hold a download slot for long.

gunicorn's gthread worker writes a response body with a blocking sendall() on the client socket; a client that
stops reading blocks that thread (and its slot) until the kernel gives up, minutes later. Measured alternatives
(benchmarks/stall_mechanisms.py, docs/performance.md): SO_SNDTIMEO ends a stalled plain stream only after several
deadlines and a TLS one never (Python's ssl retries WANT_WRITE on a blocking socket); a Python socket timeout
bounds a whole write, so it cut a client reading a steady 64 KiB/s too (one 1 MiB chunk to it takes ~16 s).

So a watchdog thread per worker polls every stream that is inside a write: progress is the client's TCP
acknowledging new bytes (tcpi_bytes_acked, which advances while one sendall is still blocked: the send queue
drains as fast as the client reads) or a write completing. A stream that makes none for `timeout_s` is logged
(Event.STREAM_STALLED) and its socket shut down, which wakes the blocked sendall with an error; gunicorn then
closes the response, whose close() frees the slot. Time spent reading S3 never counts against the client.

Progress alone lets a client that acknowledges a trickle (2 KiB every 2 s) hold its slot for as long as the file
lasts. So, like Apache mod_reqtimeout's MinRate, a stream is also judged over windows of `MinRate.window_s` seconds
of waiting on its client: a window in which the client acknowledged less than `MinRate.bytes_s` per second on
average closes the stream (Event.STREAM_TOO_SLOW). Windows are consecutive, not sliding, so bytes a client's buffers
took at once credit one window only; they count acknowledged bytes (never completed writes, which a 64 KiB/s client
completes once per 1 MiB chunk, ~16 s apart) and only the time the stream waits on the client. Without
tcpi_bytes_acked (not Linux) there is no rate to judge and only the stall deadline applies.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass

from .contract import Event

log = logging.getLogger("download_service")

_TCP_INFO = getattr(socket, "TCP_INFO", None)  # Linux (Fargate); elsewhere only completed writes are progress
#: struct tcp_info: tcpi_bytes_acked, a u64 at this offset since Linux 4.1.
_BYTES_ACKED = struct.Struct("=Q")
_BYTES_ACKED_OFFSET = 120
#: SO_LINGER on, 0 s: close() resets the connection and drops the unsent queue (MiBs of kernel memory per stalled
#: client) instead of keeping it for a peer that does not read.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def bytes_acknowledged(sock: socket.socket) -> int | None:
    """Bytes the peer's TCP has acknowledged on this connection, or None where the kernel does not say."""
    if _TCP_INFO is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except OSError:  # not a TCP socket (a Unix socket bind), or already closed
        return None
    if len(info) < _BYTES_ACKED_OFFSET + _BYTES_ACKED.size:
        return None
    return _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_OFFSET)[0]


@dataclass(frozen=True)
class MinRate:
    """The floor a client's transfer rate may not stay under for a whole window: `bytes_s` acknowledged per second
    on average over `window_s` seconds of waiting on the client."""

    bytes_s: int
    window_s: float


class Watch:
    """One stream under watch. The body calls begin_write() before handing a chunk to the server, end_write()
    when the server asks for the next one (the chunk is in the socket), close() when the response is closed."""

    def __init__(self, watchdog: StallWatchdog, sock: socket.socket, details: dict) -> None:
        self._watchdog, self.sock, self.details = watchdog, sock, details
        self.started = self.progress_at = self.write_began = self.looked_at = time.monotonic()
        self.writing = False
        self.sent = 0
        self.acked = bytes_acknowledged(sock)
        # The current rate window: seconds it waited on the client, bytes the client acknowledged in it.
        self.window_waited, self.window_acked = 0.0, 0

    def begin_write(self) -> None:
        # The stall clock and the rate window run only while the client is the one waited on.
        self.progress_at = self.write_began = time.monotonic()
        self.writing = True

    def end_write(self, size: int) -> None:
        self.sent += size
        self.progress_at = time.monotonic()
        self.writing = False

    def close(self) -> None:
        self._watchdog.forget(self)


class NoWatch:
    """No socket to watch (a WSGI server other than gunicorn, e.g. Flask's test client)."""

    def begin_write(self) -> None:
        pass

    def end_write(self, size: int) -> None:
        pass

    def close(self) -> None:
        pass


NO_WATCH = NoWatch()


class StallWatchdog:
    """Per worker process: its thread is started by the first watched stream of each process (after fork). Closes a
    stream that made no progress for `timeout_s`, and (with `min_rate`) one whose client stayed under the floor for
    a whole window; a round runs every `interval_s`, so either is closed at most one round late."""

    def __init__(self, timeout_s: float, min_rate: MinRate | None = None) -> None:
        self.timeout_s = timeout_s
        self.min_rate = min_rate if min_rate and min_rate.bytes_s > 0 else None
        self.interval_s = min(1.0, timeout_s / 5, *([self.min_rate.window_s / 5] if self.min_rate else []))
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def watch(self, environ: dict, **details) -> Watch | NoWatch:
        sock = environ.get("gunicorn.socket")
        if not isinstance(sock, socket.socket):
            return NO_WATCH
        watch = Watch(self, sock, details)
        with self._lock:
            if self._pid != os.getpid():  # a thread does not survive fork: one per worker
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="stall-watchdog", daemon=True).start()
            self._watches.add(watch)
        return watch

    def forget(self, watch: Watch) -> None:
        # Under the lock: once this returns, the watchdog never touches the socket again (gunicorn closes it next,
        # and its descriptor number may be reused by another connection).
        with self._lock:
            self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_s)
            self.check(time.monotonic())

    def check(self, now: float) -> None:
        """One round: note progress, close what made none for timeout_s or stayed under the floor for a window."""
        with self._lock:
            for watch in list(self._watches):
                if not watch.writing:
                    continue
                acked = bytes_acknowledged(watch.sock)
                gained = 0
                if acked is not None and acked != watch.acked:
                    gained = acked - (watch.acked or 0)
                    watch.acked, watch.progress_at = acked, now
                if now - watch.progress_at >= self.timeout_s:
                    self._close(watch, now, "download closed: the client made no progress", Event.STREAM_STALLED)
                elif acked is not None and (rate := self._rate_under_floor(watch, now, gained)) is not None:
                    self._close(
                        watch,
                        now,
                        "download closed: the client read slower than the minimum rate",
                        Event.STREAM_TOO_SLOW,
                        rate_bytes_s=round(rate),
                        min_rate_bytes_s=self.min_rate.bytes_s,
                        min_rate_window_s=self.min_rate.window_s,
                    )

    def _rate_under_floor(self, watch: Watch, now: float, gained: int) -> float | None:
        """Adds this round to the stream's window; at the window's end, its rate if under the floor (else a new
        window starts). Only the time since the last round or the write's start, whichever is later, is waited on
        the client; bytes acknowledged meanwhile count whenever they came."""
        if self.min_rate is None:
            return None
        # Never below 0: a write may begin (in its request's thread) after this round read the clock.
        watch.window_waited += max(0.0, now - max(watch.looked_at, watch.write_began))
        watch.window_acked += gained
        watch.looked_at = now
        if watch.window_waited < self.min_rate.window_s:
            return None
        rate = watch.window_acked / watch.window_waited
        watch.window_waited, watch.window_acked = 0.0, 0
        return rate if rate < self.min_rate.bytes_s else None

    def _close(self, watch: Watch, now: float, message: str, event: str, **rate_fields) -> None:
        self._watches.discard(watch)
        log.warning(
            message,
            extra={
                "event": event,
                "bytes_sent": watch.sent,
                "elapsed_s": round(now - watch.started, 3),
                "stall_timeout_s": self.timeout_s,
                **rate_fields,
                **watch.details,
            },
        )
        try:
            watch.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
            # socket.socket's own shutdown, also for a TLS socket: SSLSocket.shutdown() would drop the SSL object
            # under the thread still writing through it.
            socket.socket.shutdown(watch.sock, socket.SHUT_RDWR)
        except OSError:
            pass  # the client went away meanwhile: the write fails by itself
