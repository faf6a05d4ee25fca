"""A loopback TCP proxy between the service and S3 that injects faults on demand.

The service's AWS_ENDPOINT_URL_S3 points at the proxy; the proxy forwards to SeaweedFS unless told otherwise:

- `passthrough()`: forward both ways (the default);
- `delay(seconds)`: hold every request that long before forwarding it (slow S3);
- `stall()`: swallow requests and never answer (hung S3: only the client's read timeout ends the wait);
- `throttle()`: answer every request itself with `503 SlowDown`, as S3 does when throttling;
- `reset_after(n, times)`: forward responses, but reset the connection (RST) after `n` response bytes, on the next
  `times` connections that get that far (None: every connection);
- `refuse()`: stop listening and reset every open connection (S3 stopped: connect fails with ECONNREFUSED);
  any other mode listens again on the same port (S3 back).

Modes apply at once, to new and pooled connections alike. Every thread is a daemon, every wait is bounded, and
`stop()` closes everything, so a failing test cannot leave the proxy running.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

from devtools.seaweed import free_ports

#: Longest a stalled connection is held before the proxy drops it by itself.
MAX_STALL_S = 60.0
_POLL_S = 0.1
_BUFFER = 64 * 1024

SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
    b"<RequestId>FAULTPROXY</RequestId></Error>"
)


@dataclass(frozen=True)
class Mode:
    kind: str = "pass"
    seconds: float = 0.0
    after_bytes: int = 0
    generation: int = 0


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_ports(1)[0]
        self._mode = Mode()
        self._resets_left: int | None = None
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._links: set[_Link] = set()
        self._stopped = threading.Event()
        self._acceptor: threading.Thread | None = None
        self.connections = 0  # accepted so far
        self.resets = 0  # connections reset by reset_after

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._listen()
        self._acceptor = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._close_listener()
        self._reset_all()
        if self._acceptor:
            self._acceptor.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults ---------------------------------------------------------------------------------------------------

    def passthrough(self) -> None:
        self._set(Mode("pass"))

    def delay(self, seconds: float) -> None:
        self._set(Mode("delay", seconds=seconds))

    def stall(self) -> None:
        self._set(Mode("stall"))

    def throttle(self) -> None:
        self._set(Mode("throttle"))

    def reset_after(self, after_bytes: int, times: int | None = 1) -> None:
        with self._lock:
            self._resets_left = times
        self._set(Mode("reset", after_bytes=after_bytes))

    def refuse(self) -> None:
        self._set(Mode("refuse"))
        self._close_listener()
        self._reset_all()

    # --- internals ------------------------------------------------------------------------------------------------

    def _set(self, mode: Mode) -> None:
        with self._lock:
            self._mode = Mode(mode.kind, mode.seconds, mode.after_bytes, self._mode.generation + 1)
        if mode.kind != "refuse" and self._listener is None and not self._stopped.is_set():
            self._listen()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(_POLL_S)
        self._listener = listener

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener:
            listener.close()

    def _reset_all(self) -> None:
        with self._lock:
            links = list(self._links)
        for link in links:
            link.reset()

    def take_reset(self) -> bool:
        with self._lock:
            if self._resets_left is None:
                self.resets += 1
                return True
            if self._resets_left > 0:
                self._resets_left -= 1
                self.resets += 1
                return True
            return False

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(_POLL_S)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            client.settimeout(None)
            link = _Link(self, client)
            with self._lock:
                self._links.add(link)
                self.connections += 1
            threading.Thread(target=link.run, name="faultproxy-link", daemon=True).start()

    def forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()


class _Link:
    """One client connection and, once a request is forwarded, its upstream connection."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self._closed = False

    def run(self) -> None:
        """Client -> upstream, request by request, applying the mode in force when each request arrives."""
        try:
            while not self.proxy.stopped and not self._closed:
                readable, _, _ = select.select([self.client], [], [], _POLL_S)
                if not readable:
                    continue
                data = self.client.recv(_BUFFER)
                if not data:
                    break
                mode = self.proxy.mode
                if mode.kind == "throttle":
                    self._answer_slowdown(data)
                    break
                if mode.kind == "stall":
                    self._hold()
                    break
                if mode.kind == "delay":
                    time.sleep(mode.seconds)
                if self.upstream is None:
                    self.upstream = socket.create_connection(self.proxy.upstream, timeout=10)
                    self.upstream.settimeout(None)
                    threading.Thread(target=self._pump, name="faultproxy-pump", daemon=True).start()
                self.upstream.sendall(data)
        except (OSError, ValueError):  # ValueError: select() on a socket closed by the other direction
            pass
        finally:
            self.close()

    def _pump(self) -> None:
        """Upstream -> client; in `reset` mode, cut the connection with an RST after the configured byte count."""
        generation, sent = -1, 0
        try:
            while not self._closed:
                data = self.upstream.recv(_BUFFER)
                if not data:
                    break
                mode = self.proxy.mode
                if mode.generation != generation:
                    generation, sent = mode.generation, 0
                if mode.kind == "reset" and sent + len(data) > mode.after_bytes and self.proxy.take_reset():
                    self.client.sendall(data[: max(0, mode.after_bytes - sent)])
                    self.reset()
                    return
                self.client.sendall(data)
                sent += len(data)
        except OSError:
            pass
        self.close()

    def _answer_slowdown(self, request: bytes) -> None:
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in request and time.monotonic() < deadline:
            readable, _, _ = select.select([self.client], [], [], _POLL_S)
            if readable:
                more = self.client.recv(_BUFFER)
                if not more:
                    return
                request += more
        head = (
            b"HTTP/1.1 503 Slow Down\r\n"
            b"Content-Type: application/xml\r\n"
            b"x-amz-request-id: FAULTPROXY\r\n"
            b"Connection: close\r\n"
            b"Content-Length: " + str(len(SLOWDOWN_BODY)).encode() + b"\r\n\r\n"
        )
        self.client.sendall(head + (b"" if request.startswith(b"HEAD ") else SLOWDOWN_BODY))

    def _hold(self) -> None:
        """Never answer: wait until the client gives up, the mode changes to refuse, or MAX_STALL_S."""
        deadline = time.monotonic() + MAX_STALL_S
        while not self.proxy.stopped and not self._closed and time.monotonic() < deadline:
            readable, _, _ = select.select([self.client], [], [], _POLL_S)
            if readable and not self.client.recv(_BUFFER):
                return

    def reset(self) -> None:
        """Abort both connections with RST (SO_LINGER 0), as a crashed peer or a middlebox would."""
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self.proxy.forget(self)
