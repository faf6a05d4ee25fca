"""Loopback HTTP servers the canary tests point the checks, the hook and the probe at.

- FakeTestListener: the ALB's guarded test listener as the hook sees it. Its one rule has the conditions the (stubbed)
  ModifyRule calls give it, evaluated like ALB does (every condition must match: http-header values, source-ip CIDRs);
  a change takes effect only after `propagation` further requests, as ALB rule changes take a while to arrive.
  Unmatched requests get the default action's 403; matched ones go to `upstream`, or get the ALB's 503 when there
  is none (no healthy target). It records the token header of every request it got.
- FixedServer: answers every request with the same status, headers and body (a service that is wrong everywhere).

Both run on 127.0.0.1 in daemon threads and stop on `with` exit.
"""

from __future__ import annotations

import http.client
import ipaddress
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from canary.hook import TOKEN_HEADER, locked_conditions

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.owner.answer(self)

    def do_HEAD(self) -> None:
        self.server.owner.answer(self)

    def do_POST(self) -> None:
        self.server.owner.answer(self)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows what a test asserts, not every request."""

    def reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server:
    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def answer(self, handler: _Handler) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class FixedServer(_Server):
    def __init__(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.response = (status, [("Content-Length", str(len(body))), *(headers or [])], body)

    def answer(self, handler: _Handler) -> None:
        handler.reply(*self.response)


class FakeTestListener(_Server):
    def __init__(self, upstream: str | None, propagation: int = 0) -> None:
        super().__init__()
        self.upstream = urllib.parse.urlsplit(upstream) if upstream else None
        self.propagation = propagation
        self.tokens_seen: list[str | None] = []
        self._conditions = locked_conditions("locked")  # what the template deploys
        self._pending: tuple[list[dict], int] | None = None
        self._lock = threading.Lock()

    def apply(self, conditions: list[dict]) -> None:
        """What a ModifyRule call does to the rule: the new conditions replace the old ones, after propagation."""
        with self._lock:
            self._pending = (conditions, self.propagation)

    def _current(self) -> list[dict]:
        with self._lock:
            if self._pending:
                conditions, left = self._pending
                if left == 0:
                    self._conditions, self._pending = conditions, None
                else:
                    self._pending = (conditions, left - 1)
            return self._conditions

    def matches(self, handler: _Handler) -> bool:
        for condition in self._current():
            if condition["Field"] == "http-header":
                config = condition["HttpHeaderConfig"]
                if handler.headers.get(config["HttpHeaderName"]) not in config["Values"]:
                    return False
            elif condition["Field"] == "source-ip":
                client = ipaddress.ip_address(handler.client_address[0])
                if not any(client in ipaddress.ip_network(cidr) for cidr in condition["SourceIpConfig"]["Values"]):
                    return False
            else:
                raise AssertionError(f"the test rule has an unexpected condition {condition['Field']}")
        return True

    def answer(self, handler: _Handler) -> None:
        with self._lock:
            self.tokens_seen.append(handler.headers.get(TOKEN_HEADER))
        if not self.matches(handler):
            handler.reply(403, [("Content-Type", "application/json")], b'{"error": "forbidden"}')
        elif self.upstream is None:
            handler.reply(503, [("Content-Type", "text/html")], b"<html>503 Service Temporarily Unavailable</html>")
        else:
            handler.reply(*self._forward(handler))

    def _forward(self, handler: _Handler) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else None
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, kept, content
        finally:
            connection.close()
