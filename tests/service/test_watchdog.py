"""The stall watchdog on real loopback TCP connections (plain and TLS): what counts as progress, what is closed.

Rounds are run by calling check() with a chosen clock value, so nothing here waits for the deadline itself; the
waits are bounded joins on the thread that writes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import ssl
import threading
import time

import pytest

from download_service import tls, watchdog
from download_service.contract import Event
from download_service.stream import ResumableStream
from download_service.watchdog import NO_WATCH, MinRate, StallWatchdog, bytes_acknowledged

TIMEOUT_S = 1000.0  # far beyond any test: only the rounds a test runs itself can close a stream


@pytest.fixture(autouse=True)
def _rounds_by_hand_only(monkeypatch):
    """No background round: a test runs check() itself with the clock values it chooses. A real-time round in
    between would add real seconds to a rate window the test is filling with chosen ones."""
    monkeypatch.setattr(StallWatchdog, "_run", lambda self: None)


@pytest.fixture(params=["plain", "tls"])
def connection(request, tmp_path):
    """(server-side socket, client-side socket) of one loopback connection; the client reads nothing by itself."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    client.connect(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    if request.param == "tls":
        pair = tls.generate(parent=str(tmp_path))
        context = tls.server_context(pair.certfile, pair.keyfile)
        client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_context.check_hostname, client_context.verify_mode = False, ssl.CERT_NONE
        handshake = threading.Thread(target=lambda: setattr(request, "wrapped", client_context.wrap_socket(client)))
        handshake.start()
        server = context.wrap_socket(server, server_side=True)
        handshake.join(10)
        client = request.wrapped
    yield server, client
    # Wake and end the test's writers before the descriptors are freed: a TLS writer still inside SSL_write holds
    # the descriptor's number, and would write into whichever socket the next test gets under that number.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(server, socket.SHUT_RDWR)
    for writer in _writers:
        writer.join(10)
    _writers.clear()
    server.close()
    client.close()


_writers: list[threading.Thread] = []


def _blocked_writer(sock: socket.socket) -> tuple[threading.Thread, dict]:
    """A thread sending far more than the kernel buffers, as gunicorn's sendall does to a client that stopped."""
    outcome: dict = {}

    def send() -> None:
        try:
            sock.sendall(b"x" * (64 * 1024 * 1024))
            outcome["error"] = None
        except OSError as error:
            outcome["error"] = error

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    _writers.append(thread)
    return thread, outcome


def test_a_stream_without_progress_is_closed_and_its_blocked_write_fails(connection, caplog):
    server, _client = connection
    watchdog = StallWatchdog(TIMEOUT_S)
    watch = watchdog.watch({"gunicorn.socket": server}, client_ip="198.51.100.7", request_id="r-1")
    watch.begin_write()
    writer, outcome = _blocked_writer(server)
    writer.join(0.5)
    assert writer.is_alive()  # stuck in sendall: the client reads nothing
    watchdog.check(time.monotonic())  # notes what the kernel acknowledged so far
    with caplog.at_level(logging.WARNING, logger="download_service"):
        watchdog.check(time.monotonic() + TIMEOUT_S)
    writer.join(10)
    assert not writer.is_alive()
    assert isinstance(outcome["error"], OSError)  # EPIPE, or SSLEOFError over TLS: gunicorn then closes the body
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == Event.STREAM_STALLED]
    assert (record.client_ip, record.request_id, record.bytes_sent) == ("198.51.100.7", "r-1", 0)
    assert record.elapsed_s >= TIMEOUT_S
    assert record.stall_timeout_s == TIMEOUT_S


def test_acknowledged_bytes_are_progress_while_one_write_is_still_blocked(connection):
    server, client = connection
    watchdog = StallWatchdog(TIMEOUT_S)
    watch = watchdog.watch({"gunicorn.socket": server})
    watch.begin_write()
    writer, outcome = _blocked_writer(server)
    writer.join(0.5)
    watchdog.check(time.monotonic())
    before = bytes_acknowledged(server)
    received = 0
    while received < 256 * 1024:  # the client reads a little: the kernel acknowledges it
        received += len(client.recv(64 * 1024))
    deadline = time.monotonic() + 10
    while bytes_acknowledged(server) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bytes_acknowledged(server) > before
    late = time.monotonic() + TIMEOUT_S  # long after the last completed write ...
    watchdog.check(late)  # ... but the client acknowledged new bytes since the last round
    assert writer.is_alive()
    assert "error" not in outcome
    watchdog.check(late + TIMEOUT_S / 2)
    assert writer.is_alive()  # the clock restarted at the progress, not at the write
    watch.close()


def test_time_outside_a_write_is_never_the_clients(connection):
    server, _client = connection
    watchdog = StallWatchdog(TIMEOUT_S)
    watch = watchdog.watch({"gunicorn.socket": server})
    watch.begin_write()
    watch.end_write(1024)  # the chunk went into the socket; now the stream waits on S3
    watchdog.check(time.monotonic() + 10 * TIMEOUT_S)
    server.sendall(b"still open")  # not shut down
    watch.progress_at -= 10 * TIMEOUT_S  # as if reading the next chunk from S3 took that long
    watch.begin_write()  # the next chunk: the clock starts now, not at the last progress
    watchdog.check(time.monotonic() + TIMEOUT_S / 2)
    server.sendall(b"still open")


def test_a_forgotten_stream_is_never_touched(connection):
    server, _client = connection
    watchdog = StallWatchdog(TIMEOUT_S)
    watch = watchdog.watch({"gunicorn.socket": server})
    watch.begin_write()
    watch.close()  # the response was closed (gunicorn closes the socket next; its number may be reused)
    watchdog.check(time.monotonic() + 10 * TIMEOUT_S)
    server.sendall(b"still open")


# --- the minimum rate ------------------------------------------------------------------------------------------------

FLOOR = MinRate(bytes_s=8 * 1024, window_s=100.0)


def _read(client: socket.socket, size: int) -> None:
    """Read exactly `size` bytes, as a client's application does."""
    while size > 0:
        size -= len(client.recv(min(size, 64 * 1024)))


def test_a_trickle_is_closed_at_the_end_of_its_first_window_under_the_floor(connection, caplog):
    server, client = connection
    watchdog = StallWatchdog(TIMEOUT_S, FLOOR)
    watch = watchdog.watch({"gunicorn.socket": server}, client_ip="198.51.100.7", request_id="r-2")
    watch.begin_write()
    start = watch.write_began
    writer, outcome = _blocked_writer(server)
    writer.join(0.5)
    steps = int(FLOOR.window_s / 2)
    with caplog.at_level(logging.WARNING, logger="download_service"):
        for step in range(1, steps + 1):
            _read(client, 2048)  # 2 KiB every 2 s: progress, so the stall deadline never comes
            watchdog.check(start + 2 * step)
            if step < steps:
                assert writer.is_alive(), f"closed after {2 * step} s, before its window ended"
    writer.join(10)
    assert not writer.is_alive()  # closed at the round that ended the window
    assert isinstance(outcome["error"], OSError)
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == Event.STREAM_TOO_SLOW]
    assert (record.client_ip, record.request_id, record.levelname) == ("198.51.100.7", "r-2", "WARNING")
    # What the client's buffers took at once and the trickle, over the window: far under the floor.
    assert 0 < record.rate_bytes_s < FLOOR.bytes_s / 2
    assert (record.min_rate_bytes_s, record.min_rate_window_s) == (FLOOR.bytes_s, FLOOR.window_s)
    assert (record.stall_timeout_s, record.bytes_sent) == (TIMEOUT_S, 0)
    assert FLOOR.window_s <= record.elapsed_s < FLOOR.window_s + 1  # the stream began just before its first write
    assert not [r for r in caplog.records if getattr(r, "event", None) == Event.STREAM_STALLED]


def test_a_steady_64_kib_s_reader_is_never_closed_while_one_write_lasts_many_windows(connection, caplog):
    server, client = connection
    window = MinRate(bytes_s=8 * 1024, window_s=10.0)
    watchdog = StallWatchdog(TIMEOUT_S, window)
    watch = watchdog.watch({"gunicorn.socket": server})
    watch.begin_write()
    start = watch.write_began
    writer, outcome = _blocked_writer(server)  # one 64 MiB sendall: at 64 KiB/s it would last 17 minutes
    writer.join(0.5)
    with caplog.at_level(logging.WARNING, logger="download_service"):
        for second in range(1, int(6 * window.window_s) + 1):
            before = bytes_acknowledged(server)
            _read(client, 64 * 1024)
            deadline = time.monotonic() + 5
            while bytes_acknowledged(server) == before and time.monotonic() < deadline:
                time.sleep(0.01)  # the client's TCP acknowledges what its application made room for
            watchdog.check(start + second)
    assert writer.is_alive()  # six windows judged, the write never completed, the stream is open
    assert "error" not in outcome
    assert not [r for r in caplog.records if getattr(r, "event", None) == Event.STREAM_TOO_SLOW]
    watch.close()


def test_time_waiting_on_s3_is_not_in_the_window(connection, caplog):
    server, _client = connection
    watchdog = StallWatchdog(TIMEOUT_S, MinRate(bytes_s=8 * 1024, window_s=10.0))
    watch = watchdog.watch({"gunicorn.socket": server})
    watch.begin_write()
    start = watch.write_began
    watchdog.check(start + 6)  # 6 s waited on a client that took nothing
    watch.end_write(1024)  # the chunk is in the socket: the stream now reads S3
    watchdog.check(start + 500)  # not the client's time
    watch.begin_write()
    watch.write_began = start + 500  # the next chunk, after a long S3 read (as the clock would then say)
    watchdog.check(start + 503)  # 9 s of the window waited on the client
    server.sendall(b"still open")
    with caplog.at_level(logging.WARNING, logger="download_service"):
        watchdog.check(start + 504)  # 10 s: the window ends with nothing acknowledged
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == Event.STREAM_TOO_SLOW]
    assert record.rate_bytes_s < 100  # at most the few bytes the check above sent, over 10 s
    assert _shut_down(server)


def _shut_down(sock: socket.socket) -> bool:
    """Whether writing to `sock` fails (the watchdog shut it down) rather than blocks on a client reading nothing."""
    sock.settimeout(2)
    try:
        for _ in range(1024):
            sock.sendall(b"x" * 65536)
    except TimeoutError:
        return False
    except OSError:
        return True
    return False


def test_without_acknowledged_bytes_only_the_stall_deadline_applies(connection, monkeypatch):
    server, _client = connection
    monkeypatch.setattr(watchdog, "bytes_acknowledged", lambda sock: None)  # a kernel without tcpi_bytes_acked
    dog = StallWatchdog(TIMEOUT_S, FLOOR)
    watch = dog.watch({"gunicorn.socket": server})
    watch.begin_write()
    dog.check(watch.write_began + TIMEOUT_S / 2)  # many windows, no rate to judge
    server.sendall(b"still open")


@pytest.mark.parametrize(("floor", "expected"), [(MinRate(0, 30), None), (FLOOR, FLOOR)])
def test_a_zero_floor_judges_no_rate_and_the_round_fits_the_window(floor, expected):
    dog = StallWatchdog(TIMEOUT_S, floor)
    assert dog.min_rate == expected
    assert StallWatchdog(30, MinRate(1024, 2.0)).interval_s == 0.4  # five rounds a window: closed <= 1 round late
    assert StallWatchdog(30, MinRate(1024, 30.0)).interval_s == 1.0


def test_no_socket_no_watch():
    assert StallWatchdog(TIMEOUT_S).watch({}) is NO_WATCH  # Flask's test client: nothing to watch


def test_the_kernel_reports_acknowledged_bytes_on_linux(connection):
    server, client = connection
    before = bytes_acknowledged(server)
    assert before is not None
    server.sendall(b"y" * 1000)
    received = 0
    while received < 1000:
        received += len(client.recv(1000))
    deadline = time.monotonic() + 10
    while bytes_acknowledged(server) < before + 1000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bytes_acknowledged(server) >= before + 1000


def test_the_body_reports_each_handover_to_its_watch():
    calls: list = []

    class Recorder:
        def begin_write(self):
            calls.append("begin")

        def end_write(self, size):
            calls.append(size)

        def close(self):
            calls.append("close")

    body = io.BytesIO(b"a" * 10)
    stream = ResumableStream(
        body=body, start=0, end=9, chunk_size=4, reopen=None, on_close=lambda: calls.append("slot"), watch=Recorder()
    )
    stream.prime()  # read before any handover: not the client's time
    assert calls == []
    assert b"".join(stream) == b"a" * 10
    assert calls == ["begin", 4, "begin", 4, "begin", 2]  # the stall clock runs only between begin and end
    stream.close()
    assert calls[-2:] == ["close", "slot"]
