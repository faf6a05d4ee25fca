"""Start SeaweedFS and the service (production gunicorn config) on loopback, and seed benchmark objects."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
from botocore.config import Config

from devtools.gunicorn_server import GunicornServer
from devtools.seaweed import SeaweedS3

BUCKET = "bench-files"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
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
    s3: SeaweedS3
    client: object  # boto3 S3 client for direct reads (the baseline)
    tmp: str

    def put(self, key: str, size: int) -> None:
        self.client.upload_fileobj(PatternStream(size), BUCKET, key)

    @contextlib.contextmanager
    def service(self, **env: str) -> Iterator[GunicornServer]:
        settings = {
            **CREDENTIALS,
            "FILES_BUCKET": BUCKET,
            "AWS_ENDPOINT_URL_S3": self.s3.endpoint_url,
            "LOG_LEVEL": "warning",
            **env,
        }
        with GunicornServer(settings, log_dir=tempfile.mkdtemp(dir=self.tmp)) as server:
            yield server


@contextlib.contextmanager
def bench_environment() -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, SeaweedS3(BUCKET, data_dir=f"{tmp}/seaweed") as s3:
        client = boto3.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            config=Config(max_pool_connections=64, retries={"mode": "standard"}),
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        )
        yield Bench(s3=s3, client=client, tmp=tmp)
