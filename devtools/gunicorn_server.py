"""The production gunicorn command as a managed subprocess, for `make run`, `make load`, benchmarks and tests.

Runs exactly what `make serve` and the image run (`gunicorn --config src/gunicorn.conf.py`) on a loopback port
(a free one unless given), with stdout/stderr captured to files so tests can read the JSON log lines, or passed
through to the terminal (`make run`). devtools/local_stack.py builds its environment. With TLS=self-signed in it,
the server speaks HTTPS, and `url`, `urlopen()` and `connect()` do too (without verifying the certificate: it is
self-signed, generated at the server's start).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from devtools.lifetime import die_with_parent
from devtools.seaweed import free_ports
from download_service import contract

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "src" / "gunicorn.conf.py"


class GunicornServer:
    def __init__(
        self,
        env: dict[str, str],
        log_dir: str | os.PathLike | None = None,
        *,
        port: int | None = None,
        capture: bool = True,
    ) -> None:
        """`capture=False` leaves stdout/stderr on the caller's terminal (and log_lines() has no files to read)."""
        self.port = port or free_ports(1)[0]
        self.env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.capture = capture
        self.tls = self.env.get("TLS") == contract.TLS_SELF_SIGNED
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="gunicorn-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.log_dir / "stdout.log"
        self.stderr_path = self.log_dir / "stderr.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @staticmethod
    def client_context() -> ssl.SSLContext:
        """A TLS client context that accepts the server's self-signed certificate (TLS 1.2 or newer)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # nosec B501 - the server's own per-start self-signed certificate
        return context

    def urlopen(self, path: str, timeout: float = 10, headers: dict | None = None):
        """urllib's urlopen of url + path, over TLS when the server speaks it."""
        # Loopback http(s) URLs built here, never a caller's scheme.
        request = urllib.request.Request(self.url + path, headers=headers or {})  # noqa: S310
        context = self.client_context() if self.tls else None
        return urllib.request.urlopen(request, timeout=timeout, context=context)  # noqa: S310  # nosec B310

    def connect(self, timeout: float = 30, receive_buffer: int | None = None) -> socket.socket:
        """A connected client socket (TLS-wrapped when the server speaks TLS). `receive_buffer` is set before the
        connection exists, so the kernel's window never grows past it."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", self.port))
        return self.client_context().wrap_socket(sock) if self.tls else sock

    def start(self, timeout: float = 30.0) -> GunicornServer:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        with contextlib.ExitStack() as files:
            out, err = (
                (files.enter_context(open(path, "ab")) for path in (self.stdout_path, self.stderr_path))
                if self.capture
                else (None, None)
            )
            self.process = subprocess.Popen(
                [gunicorn, "--config", str(CONFIG)],
                env=self.env,
                cwd=self.log_dir,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                # Its own process group, so a terminal's Ctrl-C reaches only the parent, which stops it with
                # SIGTERM (graceful). Measured with `make run`: SIGINT to the whole group left one worker waiting
                # out graceful_timeout (25 s, then SIGKILL); SIGTERM from the parent stops everything in seconds.
                process_group=0,
                preexec_fn=die_with_parent(),  # a SIGKILLed runner leaves no gunicorn behind
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: {self._stderr()}")
            try:
                with self.urlopen(contract.HEALTH_PATH, timeout=1):
                    if len(self.workers()) >= int(self.env.get("WORKERS", "2")):
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s: {self._stderr()}")

    def _stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.capture else "(see its output above)"

    def stalled_download(
        self, path: str, client: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[socket.socket, int]:
        """Start a GET of `path` and stop reading after the status line, so a server thread blocks in send().
        `client` goes in X-Forwarded-For (the server counts streams per client: FORWARDED_ALLOW_IPS trusts
        loopback), `headers` are sent as well. Returns the socket (closing it frees the thread) and the status."""
        sock = self.connect(receive_buffer=32 * 1024)
        fields = {**({"X-Forwarded-For": client} if client else {}), **(headers or {})}
        extra = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode())
        return sock, int(sock.recv(32).split(b"\r\n", 1)[0].split()[1])

    def stall_every_download_slot(self, path: str, slots: int) -> list[tuple[socket.socket, int]]:
        """Stalled downloads of `path` until `slots` of them were admitted (200), each from its own client
        address, as many clients behind an ALB would be. The kernel picks the worker that accepts each connection,
        so a refused one (503) reached a worker already full; at most 4 x slots tries."""
        stalled: list[tuple[socket.socket, int]] = []
        while sum(status == 200 for _, status in stalled) < slots and len(stalled) < 4 * slots:
            stalled.append(self.stalled_download(path, client=documentation_address(len(stalled))))
        return stalled

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def terminate(self) -> None:
        """SIGTERM: gunicorn's graceful stop (what ECS sends)."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.kill()
            self.process.wait()
            self._remove_tls_pair()

    def _remove_tls_pair(self) -> None:
        """A SIGKILLed master cannot remove its TLS pair (gunicorn.conf.py's on_exit does on a normal stop): remove
        it here, or every killed test server would leave a key in the host's /dev/shm."""
        if not (self.tls and self.capture):
            return
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                certfile = json.loads(line).get("tls_certfile")
                if certfile and Path(certfile).parent.name.startswith(f"{contract.SERVICE_NAME}-tls-"):
                    shutil.rmtree(Path(certfile).parent, ignore_errors=True)

    def stop(self, timeout: float = 40.0) -> None:
        if self.process and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_lines(self) -> list[str]:
        """The complete lines written so far. While the server runs, a line still being written (read between the
        kernel copying its first bytes and its newline) is left for the next call instead of returned cut short."""
        running = self.process is not None and self.process.poll() is None
        lines = []
        for path in (self.stdout_path, self.stderr_path):
            text = path.read_text(encoding="utf-8", errors="replace")
            if running:
                text = text[: text.rfind("\n") + 1]
            lines.extend(line for line in text.splitlines() if line.strip())
        return lines

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def documentation_address(index: int) -> str:
    """A distinct client address per index, from 198.18.0.0/15 (RFC 2544 benchmarking: never a real client)."""
    return f"198.{18 + index // 65536 % 2}.{index // 256 % 256}.{index % 256}"
