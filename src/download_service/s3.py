"""S3 access: one boto3 client per worker process, and the mapping of S3 failures to HTTP answers."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from . import contract
from .settings import Settings


class S3Clients:
    """Hands out a boto3 S3 client created in the current process.

    gunicorn forks workers after importing the app; a client (and its connection pool) created in the master
    would be shared across processes. The client is therefore built lazily, per PID, and shared by the threads
    of that worker (boto3 clients are thread-safe).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client = None

    def get(self):
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._client = self._create()
                    self._pid = pid
        return self._client

    def _create(self):
        s = self._settings
        config = Config(
            connect_timeout=s.s3_connect_timeout,
            read_timeout=s.s3_read_timeout,
            retries={"mode": "standard", "max_attempts": s.s3_max_attempts},
            max_pool_connections=s.threads + 4,
            tcp_keepalive=True,
            # No response checksum: botocore's default ("when_supported") asks S3 for the object's checksum and runs
            # CRC32 over every byte of a single-part object (0.3 worker CPU-s/GiB measured), yet compares only on a
            # read past the end, which the stream never makes (it stops at Content-Length). TLS already
            # authenticates every byte from S3. docs/performance.md, "Checksums on GET".
            response_checksum_validation="when_required",
        )
        # AWS_ENDPOINT_URL_S3 (set locally, unset on AWS) is honoured by botocore itself.
        return boto3.session.Session().client("s3", config=config)


@dataclass(frozen=True)
class Failure:
    """An HTTP answer for an S3 failure. `message` is ours, never S3's: it goes to the client."""

    status: int
    message: str
    retry_after: int | None = None


_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
    "ServiceUnavailable",
    "RequestThrottled",
    "503",
}


def s3_error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def s3_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def classify(error: Exception) -> Failure:
    """Map an exception from botocore to what the client is told. Conditional and range outcomes (304, 412, 416)
    are not failures and are handled by the caller before this."""
    if isinstance(error, ClientError):
        code, status = s3_error_code(error), s3_status(error)
        if code in _NOT_FOUND or (status == 404 and code != "NoSuchBucket"):
            return Failure(404, "file not found")
        if code in _THROTTLED or status == 503:
            return Failure(503, "storage is busy, retry later", contract.RETRY_AFTER_S)
        return Failure(502, "storage error")
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
        return Failure(504, "storage timed out")
    if isinstance(error, (EndpointConnectionError, ConnectionClosedError)):
        return Failure(503, "storage unavailable, retry later", contract.RETRY_AFTER_S)
    if isinstance(error, BotoCoreError):
        return Failure(502, "storage error")
    raise error
