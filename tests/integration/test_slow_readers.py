"""Slow and stalled readers against the production gunicorn config, on real loopback sockets.

A client that stops reading must give its download slot back within STALL_TIMEOUT_S (plus the watchdog's round
and a loaded machine's scheduling), while a client reading steadily at 64 KiB/s is never cut, although one
sendall() to it blocks far longer than the deadline (measured on loopback: the kernel queues 3-4 MiB at once;
at 64 KiB/s the next 1 MiB chunk then waits about 20 s for room). And one client gets at most
MAX_STREAMS_PER_CLIENT streams of the task, whichever worker takes its connections. The deadline is short here
(the same variable production uses). Likewise a client that acknowledges a trickle (2 KiB every 2 s: progress, so no
stall) gives its slot back at the end of its first MIN_RATE_WINDOW_S, while the steady reader is never cut.

Requests keep their connection alive: after a `Connection: close` response gthread lingers up to 2 s on its main
loop for the client's FIN (gunicorn.util.close_graceful), and a slow reader sends none until it has read all.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time

import pytest

from devtools.gunicorn_server import GunicornServer, documentation_address
from download_service import contract
from download_service.contract import Event
from download_service.settings import Settings
from download_service.watchdog import MinRate, StallWatchdog

from .conftest import BIG_KEY, BUCKET

STALL_S = 5
#: Beyond the deadline: the watchdog's round (<= 1 s), gunicorn closing the response, two loaded cores.
MARGIN_S = 10
RATE = 64 * 1024  # bytes/s of the steady reader
#: Well beyond what the kernel queues at once (about 4 MiB: sndbuf + the client's window), so writes block for
#: about 30 s in all; an odd tail.
STEADY_KEY, STEADY_SIZE = "slow/steady.bin", 6 * 1024 * 1024 + 17
STALLED = 64
STEADY_CLIENT = "203.0.113.64"
SLOTS = Settings(files_bucket=BUCKET).workers * Settings(files_bucket=BUCKET).max_downloads_per_worker


@pytest.fixture(scope="module")
def steady_object(s3) -> bytes:
    data = os.urandom(STEADY_SIZE)
    s3.put_object(Bucket=BUCKET, Key=STEADY_KEY, Body=data)
    return data


def _read_response(sock, rate: float | None = None, paced=lambda: True) -> tuple[int, dict, bytes]:
    """(status, headers, body) of one response on `sock`; with `rate`, the body is read at that pace (16 KiB per
    read, never ahead of schedule) for as long as `paced()` says, as a slow client's application would."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1024)
        assert chunk, head
        head += chunk
    head, body = head.split(b"\r\n\r\n", 1)
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (field.split(":", 1) for field in fields)}
    length = int(headers["content-length"])
    started = time.monotonic()
    while len(body) < length:
        if rate and paced():
            ahead = len(body) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        chunk = sock.recv(16 * 1024)
        if not chunk:
            break  # cut short: the caller compares lengths and digests
        body += chunk
    return int(status_line.split()[1]), headers, body


def _get(server: GunicornServer, path: str, client: str, receive_buffer: int | None = None, **pace):
    with server.connect(timeout=60, receive_buffer=receive_buffer) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: {client}\r\n\r\n".encode())
        return _read_response(sock, **pace)


def _events(server: GunicornServer, name: str) -> list[dict]:
    return [record for line in server.log_lines() if (record := json.loads(line)).get("event") == name]


def _start_steady_reader(server: GunicornServer) -> tuple[threading.Thread, dict]:
    """A client reading STEADY_KEY at RATE from STEADY_CLIENT, in a thread; returns it and the dict its answer
    lands in ("answer": status, headers, body). Returns once its request is in: it holds one slot."""
    steady: dict = {}

    def server_still_writing() -> bool:
        # Until the server has handed the last byte to the kernel (its access line), every write it made was to a
        # client reading at RATE; what is left is in kernel buffers and can be read at once.
        return not any(record["client_ip"] == STEADY_CLIENT for record in _events(server, Event.ACCESS))

    def read_steadily() -> None:
        # A small receive buffer: the pace is the TCP connection's, not just the application's.
        steady["answer"] = _get(
            server, f"/files/{STEADY_KEY}", STEADY_CLIENT, 64 * 1024, rate=RATE, paced=server_still_writing
        )

    reader = threading.Thread(target=read_steadily, daemon=True)
    reader.start()
    time.sleep(1)
    return reader, steady


def _assert_steady_reader_got_every_byte(server, reader, steady: dict, data: bytes, longer_than_s: float) -> None:
    reader.join(STEADY_SIZE / RATE + 60)
    assert not reader.is_alive()
    status, _, body = steady["answer"]
    assert status == 200
    assert len(body) == STEADY_SIZE
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    (access,) = [record for record in _events(server, Event.ACCESS) if record["client_ip"] == STEADY_CLIENT]
    # The scenario took place: the server spent longer than `longer_than_s` writing to the steady reader, and its
    # access line says it sent every byte.
    assert access["duration_ms"] > longer_than_s * 1000
    assert (access["status"], access["bytes"]) == (200, STEADY_SIZE)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_stalled_downloads_give_their_slots_back_while_a_steady_reader_gets_every_byte(
    start_server, big_object, steady_object, tls, capsys
):
    server = start_server(STALL_TIMEOUT_S=str(STALL_S), **({"TLS": contract.TLS_SELF_SIGNED} if tls else {}))
    reader, steady = _start_steady_reader(server)
    # Every other slot of the task, held by stalled clients (the kernel picks the worker of each connection, so
    # some reach a full worker and are refused), then more stalled clients up to STALLED.
    stalled = server.stall_every_download_slot(f"/files/{BIG_KEY}", SLOTS - 1)
    for i in range(len(stalled), STALLED):
        stalled.append(server.stalled_download(f"/files/{BIG_KEY}", client=documentation_address(i)))
    opened = time.monotonic()
    try:
        statuses = [status for _, status in stalled]
        assert statuses.count(200) == SLOTS - 1
        assert statuses.count(503) == len(stalled) - (SLOTS - 1)
        assert _get(server, "/files/slow/steady.bin", "203.0.113.99")[0] == 503  # no capacity left
        served = None
        while served is None and time.monotonic() < opened + STALL_S + MARGIN_S:
            time.sleep(0.5)
            status, _, body = _get(server, f"/files/{STEADY_KEY}", "203.0.113.99")
            if status == 200:
                served = time.monotonic() - opened
                assert body == steady_object
        assert served is not None, f"no download served within {STALL_S + MARGIN_S} s of {STALLED} stalls"
        while len(_events(server, Event.STREAM_STALLED)) < SLOTS - 1 and time.monotonic() < opened + STALL_S + MARGIN_S:
            time.sleep(0.5)  # the first freed slot served that download; every other stalled stream is closed too
    finally:
        for sock, _ in stalled:
            sock.close()
    _assert_steady_reader_got_every_byte(server, reader, steady, steady_object, longer_than_s=2 * STALL_S)
    closed = _events(server, Event.STREAM_STALLED)
    assert len(closed) == SLOTS - 1  # each admitted stalled stream, and not the steady one
    assert {record["client_ip"] for record in closed} <= {documentation_address(i) for i in range(len(stalled))}
    for record in closed:
        assert record["level"] == "warning"
        assert record["elapsed_s"] >= STALL_S  # no stream was cut before it had been stalled for the deadline
        assert record["bytes_sent"] >= 0
        assert record["stall_timeout_s"] == STALL_S
    with capsys.disabled():
        print(
            f"\n[measure] {'https' if tls else 'http'}: {len(stalled)} stalled clients ({SLOTS - 1} admitted), deadline"
            f" {STALL_S} s: a new download served {served:.1f} s after they stalled; the 64 KiB/s reader got"
            f" {STEADY_SIZE} bytes intact"
        )


def test_a_client_beyond_its_share_of_the_task_is_refused_with_429_and_retry_after(start_server, big_object):
    server = start_server()  # the default cap: contract.MAX_STREAMS_PER_CLIENT, over both workers
    cap = contract.MAX_STREAMS_PER_CLIENT
    held = [server.stalled_download(f"/files/{BIG_KEY}", client="198.51.100.7") for _ in range(cap)]
    try:
        assert [status for _, status in held] == [200] * cap
        # Each attempt is a new connection, so the kernel hands them to either worker: all are refused.
        for _ in range(6):
            status, headers, body = _get(server, f"/files/{BIG_KEY}", "198.51.100.7")
            assert status == 429  # RFC 6585 §4: the client's doing, not a server error
            assert headers["retry-after"] == str(contract.RETRY_AFTER_S)
            assert headers["content-type"] == "application/json"
            assert json.loads(body)["error"] == "too many concurrent downloads from this client, retry later"
        other, _ = server.stalled_download(f"/files/{BIG_KEY}", client="198.51.100.8")
        held.append((other, 200))
        # Only the last X-Forwarded-For entry counts: what a client writes before it is not its identity.
        spoofed, status = server.stalled_download(f"/files/{BIG_KEY}", client="198.51.100.7, 198.51.100.9")
        held.append((spoofed, status))
        assert status == 200
        held.pop(0)[0].close()  # one of the capped client's downloads ends
        deadline, status = time.monotonic() + 10, 429
        while status == 429 and time.monotonic() < deadline:
            sock, status = server.stalled_download(f"/files/{BIG_KEY}", client="198.51.100.7")
            held.append((sock, status))
        assert status == 200  # its slot counts for the client again
    finally:
        for sock, _ in held:
            sock.close()
    refusals = _events(server, Event.CLIENT_LIMIT)
    assert len(refusals) >= 6
    assert {record["client_ip"] for record in refusals} == {"198.51.100.7"}
    assert not _events(server, Event.BUSY)


#: The rate window here (production's is 30 s), the floor production's: a window's floor (120 KiB) is more than a
#: trickling client's buffers take at once, as production's (240 KiB) is, so the first window decides. And the window
#: is longer than the bound's margin, so a stream closed within the bound was closed at its first window, not its
#: second.
WINDOW_S = 15
#: What each trickling client takes, and how often: the reader issue 19 measured holding a task's slots.
TRICKLE, TRICKLE_EVERY_S = 2048, 2


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_trickling_downloads_are_let_go_within_their_window_while_a_steady_reader_gets_every_byte(
    start_server, big_object, steady_object, tls, capsys
):
    # The stall deadline lies beyond the whole test: a stream closed in it was closed for its rate.
    stall_s = 120
    server = start_server(
        STALL_TIMEOUT_S=str(stall_s),
        MIN_RATE_WINDOW_S=str(WINDOW_S),
        **({"TLS": contract.TLS_SELF_SIGNED} if tls else {}),
    )
    floor = Settings(files_bucket=BUCKET).min_rate_bytes_s
    round_s = StallWatchdog(stall_s, MinRate(floor, WINDOW_S)).interval_s
    bound_s = WINDOW_S + round_s + MARGIN_S
    reader, steady = _start_steady_reader(server)
    opened = server.stall_every_download_slot(f"/files/{BIG_KEY}", SLOTS - 1)
    started = time.monotonic()
    trickling = [sock for sock, status in opened if status == 200]
    stop = threading.Event()

    def trickle() -> None:
        # One thread takes TRICKLE bytes from every admitted stream every TRICKLE_EVERY_S until the server lets it go.
        live = set(range(len(trickling)))
        while live and not stop.is_set():
            for index in list(live):
                try:
                    if not trickling[index].recv(TRICKLE):
                        live.discard(index)
                except OSError:
                    live.discard(index)  # reset by the server
            stop.wait(TRICKLE_EVERY_S)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        assert len(trickling) == SLOTS - 1
        assert _get(server, f"/files/{STEADY_KEY}", "203.0.113.99")[0] == 503  # every slot is held
        served = None
        while served is None and time.monotonic() < started + bound_s:
            time.sleep(0.5)
            status, _, body = _get(server, f"/files/{STEADY_KEY}", "203.0.113.99")
            if status == 200:
                served = time.monotonic() - started
                assert body == steady_object
        assert served is not None, f"no download served within {bound_s} s of {len(trickling)} trickling readers"
        while len(_events(server, Event.STREAM_TOO_SLOW)) < SLOTS - 1 and time.monotonic() < started + bound_s:
            time.sleep(0.5)
    finally:
        stop.set()
        trickler.join(10)
        for sock, _ in opened:
            sock.close()
    _assert_steady_reader_got_every_byte(server, reader, steady, steady_object, longer_than_s=2 * WINDOW_S)
    closed = _events(server, Event.STREAM_TOO_SLOW)
    assert len(closed) == SLOTS - 1  # each trickling stream, and not the steady one
    assert {record["client_ip"] for record in closed} <= {documentation_address(i) for i in range(len(opened))}
    assert not _events(server, Event.STREAM_STALLED)
    for record in closed:
        assert record["level"] == "warning"
        # Never before a whole window of waiting on the client, and at the end of the first (the second ends at 2 x).
        assert WINDOW_S <= record["elapsed_s"] < bound_s < 2 * WINDOW_S
        assert record["rate_bytes_s"] < floor
        assert (record["min_rate_bytes_s"], record["min_rate_window_s"]) == (floor, WINDOW_S)
        assert record["stall_timeout_s"] == stall_s
    elapsed = sorted(record["elapsed_s"] for record in closed)
    rates = sorted(record["rate_bytes_s"] for record in closed)
    with capsys.disabled():
        print(
            f"\n[measure] {'https' if tls else 'http'}: {len(trickling)} readers taking {TRICKLE} B every"
            f" {TRICKLE_EVERY_S} s, floor {floor} B/s over {WINDOW_S} s (round {round_s} s): closed after"
            f" {elapsed[0]:.1f}-{elapsed[-1]:.1f} s at {rates[0]}-{rates[-1]} B/s; a new download served {served:.1f} s"
            f" after they began; the 64 KiB/s reader got {STEADY_SIZE} bytes intact"
        )
