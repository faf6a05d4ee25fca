"""Start SeaweedFS and the service (production gunicorn config) on loopback, and seed benchmark objects."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from botocore.config import Config

from devtools.gunicorn_server import GunicornServer
from devtools.local_stack import LocalStack
from devtools.seaweed import SeaweedS3

BUCKET = "bench-files"
MiB = 1024 * 1024


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


@dataclass
class Bench:
    stack: LocalStack
    client: object  # boto3 S3 client for direct reads (the baseline)

    @property
    def s3(self) -> SeaweedS3:
        """The S3 server, whose own counters say how many requests the service made (P4)."""
        return self.stack.s3

    def put(self, key: str, size: int) -> None:
        self.client.upload_fileobj(PatternStream(size), BUCKET, key)

    def service(self, **env: str) -> GunicornServer:
        """The service (a GunicornServer to use with `with`), LOG_LEVEL warning unless `env` says otherwise. The
        benchmark's one client address stands for many clients, so the per-client stream cap is lifted (P5 uses
        its own address per stalled stream anyway)."""
        return self.stack.server(**{"LOG_LEVEL": "warning", "MAX_STREAMS_PER_CLIENT": "4096", **env})


@contextlib.contextmanager
def bench_environment() -> Iterator[Bench]:
    with LocalStack(BUCKET) as stack:
        client = stack.client(config=Config(max_pool_connections=64, retries={"mode": "standard"}))
        yield Bench(stack=stack, client=client)
