"""Which mechanism ends a stalled download without cutting a slow reader (the record behind watchdog.py).

    python -m benchmarks.stall_mechanisms [--deadline 5] [--seconds 30]

On one loopback connection a thread writes 1 MiB chunks with blocking sendall(), as gunicorn's gthread worker does,
to a client that reads nothing (stalled) or 64 KiB/s (slow), over plain TCP and TLS, under each mechanism:

* `sndtimeo`: SO_SNDTIMEO = deadline on the server socket;
* `settimeout`: Python's socket timeout = deadline (what `sock.settimeout()` on gunicorn.socket would do);
* `watchdog`: download_service.watchdog.StallWatchdog with that deadline (progress: bytes the client's TCP
  acknowledged, or a write completing).

Prints, per case, how the writer ended and when. Bounded: every case stops after --seconds. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import logging
import socket
import struct
import tempfile
import threading
import time
from itertools import product

from devtools.gunicorn_server import GunicornServer
from download_service import tls
from download_service.watchdog import StallWatchdog

CHUNK, RATE = 1024 * 1024, 64 * 1024


def _pair(use_tls: bool, context, client_context) -> tuple[socket.socket, socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    client.connect(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    if not use_tls:
        return server, client
    wrapped: dict = {}
    handshake = threading.Thread(target=lambda: wrapped.setdefault("client", client_context.wrap_socket(client)))
    handshake.start()
    server = context.wrap_socket(server, server_side=True)
    handshake.join(10)
    return server, wrapped["client"]


def run_case(mechanism: str, use_tls: bool, reader: str, deadline: float, seconds: float, contexts) -> str:
    server, client = _pair(use_tls, *contexts)
    outcome: dict = {}
    watchdog = StallWatchdog(deadline) if mechanism == "watchdog" else None
    if mechanism == "sndtimeo":
        whole, fraction = int(deadline), int(deadline % 1 * 1e6)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", whole, fraction))
    elif mechanism == "settimeout":
        server.settimeout(deadline)
    watch = watchdog.watch({"gunicorn.socket": server}) if watchdog else None

    def write() -> None:
        started = time.monotonic()
        try:
            for _ in range(256):
                if watch:
                    watch.begin_write()
                server.sendall(b"x" * CHUNK)
                if watch:
                    watch.end_write(CHUNK)
            outcome["end"] = "completed"
        except OSError as error:
            outcome["end"] = type(error).__name__
        outcome["after_s"] = time.monotonic() - started

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    received, started = 0, time.monotonic()
    client.settimeout(0.5)
    while writer.is_alive() and time.monotonic() < started + seconds:
        if reader == "stalled":
            time.sleep(0.2)
            continue
        try:
            data = client.recv(16 * 1024)
        except (TimeoutError, OSError):
            continue
        if not data:
            break
        received += len(data)
        time.sleep(max(0.0, received / RATE - (time.monotonic() - started)))
    writer.join(0.5)
    ended = dict(outcome)  # before closing: the close itself would end a writer that is still blocked
    if watch:
        watch.close()
    client.close()
    server.close()
    if "end" not in ended:
        return f"still writing after {seconds:.0f} s (client read {received / 1024:.0f} KiB)"
    return f"{ended['end']} after {ended['after_s']:.1f} s (client read {received / 1024:.0f} KiB)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deadline", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="upper bound of each case")
    args = parser.parse_args(argv)
    logging.getLogger("download_service").setLevel(logging.ERROR)  # the watchdog's own warnings: not the result
    with tempfile.TemporaryDirectory() as directory:
        pair = tls.generate(parent=directory)
        server_context = tls.server_context(pair.certfile, pair.keyfile)
        client_context = GunicornServer.client_context()  # no verification: the pair made a line above
        cases = list(product(("sndtimeo", "settimeout", "watchdog"), (False, True), ("stalled", "slow")))
        threads, lines = [], {}
        for case in cases:  # concurrently: the cases are independent connections, and mostly wait

            def one(case=case) -> None:
                lines[case] = run_case(*case, args.deadline, args.seconds, (server_context, client_context))

            threads.append(threading.Thread(target=one))
            threads[-1].start()
        for thread in threads:
            thread.join()
    print(f"deadline {args.deadline:g} s, 1 MiB blocking sendall() per chunk, slow reader {RATE // 1024} KiB/s")
    for mechanism, use_tls, reader in cases:
        label = f"{mechanism:10} {'tls' if use_tls else 'plain':5} {reader:7}"
        print(f"{label}  {lines[(mechanism, use_tls, reader)]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
