"""P8: slow clients. Every download slot but one held by a stalled reader (a client that stopped reading, each from
an address of its own), the last one by a steady slow reader (RATE bytes/s), on the production config with a short
STALL_TIMEOUT_S (the same mechanism, watchdog.py; production's 30 s would make each repetition half a minute).

Measured: `/health` latency on new connections while the slots are held, how long after it stalled each stalled
stream was closed by the server (its socket is reset: the slot is free right after), when a new download was
admitted again, and whether the steady reader was left alone (never cut, bytes flowing).
"""

from __future__ import annotations

import select
import threading
import time

from download_service import contract
from download_service.settings import Settings

from .harness import BUCKET
from .measures import _connection, http_get
from .stats import percentile

STALL_TIMEOUT_S = 5
RATE = 64 * 1024
STEADY_CLIENT = "203.0.113.64"  # documentation address (RFC 5737), not one of the stalled clients'
#: Bounds every wait: the deadline, the watchdog's round, gunicorn closing the responses, two loaded cores.
LIMIT_S = STALL_TIMEOUT_S + 15


class SteadyReader(threading.Thread):
    """A download read at RATE (16 KiB reads, never ahead of schedule) until stop(); counts what it received and
    whether the server cut it."""

    def __init__(self, server, path: str) -> None:
        super().__init__(daemon=True)
        self.sock = server.connect(timeout=LIMIT_S)
        request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: {STEADY_CLIENT}\r\n\r\n"
        self.sock.sendall(request.encode())
        self.status = int(self.sock.recv(32).split(b"\r\n", 1)[0].split()[1])
        self.received, self.cut = 0, False
        self.started = time.monotonic()
        self._halt = threading.Event()

    def run(self) -> None:
        started = self.started = time.monotonic()
        try:
            while not self._halt.is_set():
                ahead = self.received / RATE - (time.monotonic() - started)
                if ahead > 0:
                    self._halt.wait(ahead)
                    continue
                data = self.sock.recv(16 * 1024)
                if not data:
                    self.cut = True
                    return
                self.received += len(data)
        except OSError:
            self.cut = True

    def stop(self) -> None:
        self._halt.set()
        self.join(LIMIT_S)
        self.sock.close()


def _closed_after(stalled: list, stalled_at: float) -> list[float]:
    """Seconds from stalled_at until the server reset each stalled connection. Watched with poll() for the reset
    (POLLHUP/POLLERR) without reading: reading what the kernel holds would be progress, and un-stall them."""
    poller = select.poll()
    waiting = {}
    for sock in stalled:
        poller.register(sock, select.POLLRDHUP)  # POLLHUP and POLLERR are reported whatever the mask
        waiting[sock.fileno()] = sock
    closed: list[float] = []
    while waiting and time.monotonic() < stalled_at + LIMIT_S:
        for descriptor, events in poller.poll(50):
            if events & (select.POLLHUP | select.POLLERR) and descriptor in waiting:
                closed.append(time.monotonic() - stalled_at)
                poller.unregister(waiting.pop(descriptor))
    return closed


def _probe_health(server, stop: threading.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        connection = _connection(server.url)
        started = time.perf_counter()
        assert http_get(connection, contract.HEALTH_PATH)[0] == 200
        latencies.append((time.perf_counter() - started) * 1000)
        connection.close()
        stop.wait(0.02)


def _admitted_after(server, key: str, stalled_at: float) -> float | None:
    """Seconds from stalled_at until a new download was admitted (200 instead of 503), polled every 0.2 s."""
    while time.monotonic() < stalled_at + LIMIT_S:
        connection = _connection(server.url)
        status = http_get(connection, f"/files/{key}")[0]
        connection.close()
        if status == 200:
            return time.monotonic() - stalled_at
        time.sleep(0.2)
    return None


def repetition(server, key: str, small_key: str) -> dict:
    settings = Settings(files_bucket=BUCKET)
    slots = settings.workers * settings.max_downloads_per_worker
    steady = SteadyReader(server, f"/files/{key}")
    steady.start()
    stalled = server.stall_every_download_slot(f"/files/{key}", slots - 1)
    stalled_at = time.monotonic()
    admitted = [sock for sock, status in stalled if status == 200]
    for sock, status in stalled:
        if status != 200:
            sock.close()
    latencies: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=_probe_health, args=(server, stop, latencies), daemon=True)
    prober.start()
    try:
        closed = _closed_after(admitted, stalled_at)
        stop.set()
        prober.join(LIMIT_S)
        admitted_again = _admitted_after(server, small_key, stalled_at)
        received_before = steady.received
        time.sleep(0.5)  # the steady reader still receives after the stalled ones are gone
        flowing = steady.received > received_before
    finally:
        stop.set()
        steady.stop()
        for sock in admitted:
            sock.close()
    return {
        "slots": slots,
        "stalled_admitted": len(admitted),
        "stalled_refused": len(stalled) - len(admitted),
        "stalled_closed": len(closed),
        "closed_after_s_median": percentile(closed, 50) if closed else -1.0,
        "closed_after_s_max": max(closed) if closed else -1.0,
        "download_admitted_after_s": admitted_again if admitted_again is not None else -1.0,
        "health_probes": len(latencies),
        "health_p50_ms": percentile(latencies, 50),
        "health_p99_ms": percentile(latencies, 99),
        "steady_status": steady.status,
        "steady_cut": int(steady.cut),
        "steady_still_flowing": int(flowing),
        "steady_kib_s": steady.received / 1024 / (time.monotonic() - steady.started),
    }
