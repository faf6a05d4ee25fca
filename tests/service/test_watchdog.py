"""The stall watchdog on real loopback TCP connections (plain and TLS): what counts as progress, what is closed.

Rounds are run by calling check() with a chosen clock value, so nothing here waits for the deadline itself; the
waits are bounded joins on the thread that writes.
"""

from __future__ import annotations

import io
import logging
import socket
import ssl
import threading
import time

import pytest

from download_service import tls
from download_service.contract import Event
from download_service.stream import ResumableStream
from download_service.watchdog import NO_WATCH, StallWatchdog, bytes_acknowledged

TIMEOUT_S = 1000.0  # the background round never fires during a test; check() is driven by hand


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
    server.close()
    client.close()


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
