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
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time

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


class Watch:
    """One stream under watch. The body calls begin_write() before handing a chunk to the server, end_write()
    when the server asks for the next one (the chunk is in the socket), close() when the response is closed."""

    def __init__(self, watchdog: StallWatchdog, sock: socket.socket, details: dict) -> None:
        self._watchdog, self.sock, self.details = watchdog, sock, details
        self.started = self.progress_at = time.monotonic()
        self.writing = False
        self.sent = 0
        self.acked = bytes_acknowledged(sock)

    def begin_write(self) -> None:
        self.progress_at = time.monotonic()  # the stall clock runs only while the client is the one waited on
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
    """Per worker process: its thread is started by the first watched stream of each process (after fork)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._interval = min(1.0, timeout_s / 5)
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
            time.sleep(self._interval)
            self.check(time.monotonic())

    def check(self, now: float) -> None:
        """One round: note progress, close what made none for timeout_s."""
        with self._lock:
            for watch in list(self._watches):
                if not watch.writing:
                    continue
                acked = bytes_acknowledged(watch.sock)
                if acked is not None and acked != watch.acked:
                    watch.acked, watch.progress_at = acked, now
                elif now - watch.progress_at >= self.timeout_s:
                    self._watches.discard(watch)
                    self._close(watch, now)

    def _close(self, watch: Watch, now: float) -> None:
        log.warning(
            "download closed: the client made no progress",
            extra={
                "event": Event.STREAM_STALLED,
                "bytes_sent": watch.sent,
                "elapsed_s": round(now - watch.started, 3),
                "stall_timeout_s": self.timeout_s,
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
