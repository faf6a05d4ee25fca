"""Start SeaweedFS (S3 plain and over HTTPS) and the service (production gunicorn config) on loopback, and seed
benchmark objects."""

from __future__ import annotations

import contextlib
import glob
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from devtools.gunicorn_server import GunicornServer
from devtools.local_stack import LocalStack
from devtools.seaweed import SeaweedS3

BUCKET = "bench-files"
MiB = 1024 * 1024

#: How an object was uploaded decides what botocore does when it is read (docs/performance.md, "Object shapes").
#: single-part: one PutObject, as `put_object` and `aws s3 cp` (anything under its 8 MiB multipart threshold) write
#: it; S3 keeps a full-object CRC32, which botocore checks on GET unless told otherwise.
SINGLE_PART = "single-part"
#: multipart: 8 MiB parts (`aws s3 cp`'s and boto3's default part size): a composite checksum, never checked on GET.
MULTIPART = "multipart"
_UPLOADS = {
    SINGLE_PART: TransferConfig(multipart_threshold=5 * 1024 * MiB),  # PutObject's own limit: always one request
    MULTIPART: TransferConfig(multipart_threshold=1, multipart_chunksize=8 * MiB),
}


class PatternStream:
    """A read-only file of `size` pseudo-random bytes, generated as it is read (no 1 GiB buffer in the harness)."""

    def __init__(self, size: int) -> None:
        self._size, self._position = size, 0
        self._block = os.urandom(MiB)

    def read(self, amount: int = -1) -> bytes:
        remaining = self._size - self._position
        amount = remaining if amount < 0 else min(amount, remaining)
        out = bytearray()
        while len(out) < amount:
            offset = (self._position + len(out)) % MiB
            out += self._block[offset : offset + amount - len(out)]
        self._position += len(out)
        return bytes(out)

    # Seekable, so that s3transfer streams it into a single PutObject instead of buffering the whole object.
    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._position = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence] + offset
        return self._position

    def close(self) -> None:
        pass


@dataclass
class Bench:
    stack: LocalStack
    client: object  # boto3 S3 client for direct reads (the baseline), plain HTTP
    https_client: object  # the same over HTTPS, verifying SeaweedFS's certificate

    def direct(self, s3_https: bool):
        """The baseline client over the same S3 transport as a service reads."""
        return self.https_client if s3_https else self.client

    @property
    def s3(self) -> SeaweedS3:
        """The S3 server, whose own counters say how many requests the service made (P4)."""
        return self.stack.s3

    def put(self, key: str, size: int, shape: str = SINGLE_PART) -> None:
        """`size` pseudo-random bytes at `key`, uploaded as `shape` (SINGLE_PART or MULTIPART)."""
        self.client.upload_fileobj(PatternStream(size), BUCKET, key, Config=_UPLOADS[shape])

    def service(self, s3_https: bool = False, **env: str) -> GunicornServer:
        """The service (a GunicornServer to use with `with`), LOG_LEVEL warning unless `env` says otherwise, reading
        S3 over HTTPS with `s3_https`. The benchmark's one client address stands for many clients, so the per-client
        stream cap is lifted (P5 uses its own address per stalled stream anyway)."""
        env = {"LOG_LEVEL": "warning", "MAX_STREAMS_PER_CLIENT": "4096", **env}
        return self.stack.server(s3_https=s3_https, **env)


def worker_cpu(server) -> float:
    """CPU seconds the server's workers have used, to the nanosecond: the sum of their threads' run time from
    /proc/<pid>/task/*/schedstat. psutil's user+system ticks are 10 ms, ±0.04 s/GiB over a 256 MiB download;
    gthread's threads live as long as their worker, so none of the run time being summed goes missing."""
    total = 0
    for worker in server.workers():
        for task in glob.glob(f"/proc/{worker.pid}/task/*/schedstat"):
            with contextlib.suppress(FileNotFoundError):  # a thread that ended this instant
                total += int(Path(task).read_text().split()[0])
    return total / 1e9


def settle(server, quiet_s: float = 0.3, limit_s: float = 10.0) -> None:
    """Wait until the workers stop using CPU. start() returns once one worker answers /health and all exist; the
    others may still be importing the app and building their S3 client, ~0.1 s of CPU a measurement would count."""
    deadline = time.monotonic() + limit_s
    last = worker_cpu(server)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = worker_cpu(server)
        if now - last < 0.002:
            return
        last = now


@contextlib.contextmanager
def bench_environment() -> Iterator[Bench]:
    with LocalStack(BUCKET, https=True) as stack:
        config = Config(max_pool_connections=64, retries={"mode": "standard"})
        yield Bench(
            stack=stack, client=stack.client(config=config), https_client=stack.client(https=True, config=config)
        )
