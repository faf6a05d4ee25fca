"""`make run`: the service on localhost, backed by an embedded SeaweedFS seeded with `samples/`.

No AWS account needed: SeaweedFS speaks S3 on loopback and the service reaches it through AWS_ENDPOINT_URL_S3,
exactly as boto3 would reach S3 (devtools/local_stack.py). Ctrl-C stops both, so does SIGINT or SIGTERM to make
alone, and nothing outlives a killed runner (devtools/lifetime.py).

One run per port and clone: its data lives in .local/run-<port>/ and a lock file there says who holds it. A second
run on the same port, or a port another program holds, is refused in one line (naming the running one, and a free
PORT= to use instead) before anything is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from devtools.lifetime import parent_stopping
from devtools.seaweed import free_ports

if TYPE_CHECKING:
    from devtools.local_stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BUCKET = "local-files"
#: Generated rather than committed: a multi-MiB object to try Range and streaming with, same bytes every run.
BIG_KEY, BIG_SIZE = "big/random-8MiB.bin", 8 * 1024 * 1024


def big_sample() -> bytes:
    return random.Random(42).randbytes(BIG_SIZE)  # noqa: S311 - sample data, not security


def seed(stack: LocalStack) -> list[str]:
    """Upload samples/ (keys relative to it) and the generated big file; return the keys."""
    s3 = stack.client()
    keys = []
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file()):
        key = path.relative_to(SAMPLES).as_posix()
        s3.upload_file(str(path), stack.bucket, key)
        keys.append(key)
    s3.put_object(Bucket=stack.bucket, Key=BIG_KEY, Body=big_sample())
    keys.append(BIG_KEY)
    return keys


class RunRefusedError(RuntimeError):
    """This run cannot start; the message is one line."""


@contextlib.contextmanager
def claim(port: int, local: Path = ROOT / ".local") -> Iterator[Path]:
    """The run's own folder, .local/run-<port>/, held (flock) for as long as the run lasts. Raises RunRefusedError."""
    root = local / f"run-{port}"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise RunRefusedError(
                f"make run: already running in this clone on http://localhost:{port} (pid {holder}); stop it "
                f"first (Ctrl-C), or start another beside it: make run PORT={free_ports(1)[0]}"
            ) from None
        _port_free(port)
        _write(lock, str(os.getpid()))
        yield root


def _port_free(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise RunRefusedError(
                f"make run: port {port} is in use by another program: make run PORT={free_ports(1)[0]}"
            ) from None


def _write(lock: IO[str], text: str) -> None:
    lock.seek(0)
    lock.truncate()
    lock.write(text)
    lock.flush()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _serve_until_stopped(process: subprocess.Popen, parent: int) -> int:
    """The server's exit code, or KeyboardInterrupt once the make that runs this is stopping (devtools/lifetime)."""
    while True:
        try:
            return process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if parent_stopping(parent):
                raise KeyboardInterrupt from None


def main(argv: list[str] | None = None) -> int:
    parent = os.getppid()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    try:
        with claim(args.port) as root:
            shutil.rmtree(root / "seaweed", ignore_errors=True)  # a fresh bucket every run; kept afterwards
            return _run(root, args.port, parent)
    except RunRefusedError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0  # leaving the `with` blocks stopped gunicorn gracefully (SIGTERM), then SeaweedFS


def _run(root: Path, port: int, parent: int) -> int:
    from devtools.local_stack import LocalStack  # boto3 and friends: after the refusals, which must be quick

    try:
        with LocalStack(BUCKET, root=root) as stack:
            keys = seed(stack)
            # The server's JSON lines go to this terminal, as with `make serve`.
            with stack.server(port=port, capture=False) as server:
                # TLS=self-signed (`make run TLS=self-signed`): HTTPS with the certificate made at start, hence -k.
                base = f"{'https' if server.tls else 'http'}://localhost:{port}"
                curl = "curl -k" if server.tls else "curl"
                print(f"\nSeaweedFS S3 on {stack.endpoint_url} (bucket {BUCKET!r}, data in {stack.s3.data_dir})")
                print(f"Service on {base} - try:")
                print(f"  {curl} -i {base}/health")
                for key in keys:
                    print(f"  {curl} -OJ {base}/files/{urllib.parse.quote(key)}")
                print(f"  {curl} -i -H 'Range: bytes=0-99' {base}/files/{BIG_KEY}")
                print(f"  {curl} -i {base}/files/no/such/file.txt     # 404 JSON")
                print(f"  sha256 of {BIG_KEY}: {hashlib.sha256(big_sample()).hexdigest()}")
                print("Ctrl-C stops both.\n", flush=True)
                return _serve_until_stopped(server.process, parent)
    except RuntimeError as error:  # a server that did not start (e.g. the port is taken): its output is above
        print(f"make run: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
