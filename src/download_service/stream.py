"""A download's body: S3 bytes in fixed-size chunks, resumed from S3 when the stream breaks mid-way.

Holds one S3 body at a time and never more than one chunk, so memory stays constant whatever the object size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError as Urllib3Error

from .contract import Event
from .watchdog import NO_WATCH, NoWatch, Watch

log = logging.getLogger("download_service")

#: How often one download may reopen its S3 stream after a failure mid-way before the connection is aborted.
RESUME_ATTEMPTS = 3
_STREAM_ERRORS = (BotoCoreError, Urllib3Error, OSError)


class StreamAbortedError(Exception):
    """S3 failed mid-download and could not be resumed; raising from the body makes gunicorn drop the connection,
    so the client sees a truncated transfer (short of Content-Length) instead of a complete-looking file."""


class ResumableStream:
    """The response body: S3 bytes in fixed-size chunks, resumed from S3 after a failure mid-way. `reopen(first,
    last)` returns a new S3 body for that byte span (Downloads checks it is still the same object); `on_close`
    runs once, when the server closes the body (it frees the download slot). `watch` is told when a chunk is
    handed to the server and when the server asks for the next one, so the watchdog judges only the time the
    client is waited on (watchdog.py)."""

    def __init__(
        self,
        *,
        body,
        start: int,
        end: int,
        chunk_size: int,
        reopen: Callable[[int, int], object],
        on_close: Callable[[], None],
        watch: Watch | NoWatch = NO_WATCH,
    ) -> None:
        self._body = body
        self._start, self._end = start, end
        self._chunk_size = chunk_size
        self._reopen = reopen
        self._on_close = on_close
        self._watch = watch
        self._closed = False
        self._position, self._resumes = start, 0
        self._first: bytes | None = None

    def prime(self) -> None:
        """Read the first chunk now, while a failure can still become an error response (raises
        StreamAbortedError when S3 fails before the first byte and cannot be resumed)."""
        if self._position <= self._end:
            self._first = self._read()

    def __iter__(self) -> Iterator[bytes]:
        if self._first is not None:
            first, self._first = self._first, None
            yield from self._handed_over(first)
        while self._position <= self._end:
            yield from self._handed_over(self._read())

    def _handed_over(self, chunk: bytes) -> Iterator[bytes]:
        # gunicorn writes each yielded chunk before it resumes the iterator: between these two calls it is
        # in sendall(), waiting on the client.
        self._watch.begin_write()
        yield chunk
        self._watch.end_write(len(chunk))

    def _read(self) -> bytes:
        while True:
            try:
                data = self._body.read(min(self._chunk_size, self._end - self._position + 1))
                if not data:
                    raise OSError("S3 stream ended early")
            except _STREAM_ERRORS as err:
                self._resumes += 1
                self._resume(self._position, self._resumes, err)
                continue
            self._position += len(data)
            return data

    def _resume(self, position: int, attempt: int, cause: Exception) -> None:
        details = {
            "event": Event.STREAM_RESUME,
            "position": position,
            "attempt": attempt,
            "cause": type(cause).__name__,
        }
        self._body.close()
        if attempt > RESUME_ATTEMPTS:
            log.error("download aborted after S3 failures", extra={**details, "event": Event.STREAM_ABORTED})
            raise StreamAbortedError(f"S3 stream failed at byte {position}") from cause
        log.warning("resuming download from S3", extra=details)
        try:
            self._body = self._reopen(position, self._end)
        except (ClientError, *_STREAM_ERRORS) as err:
            log.error("download aborted: cannot resume", extra={**details, "event": Event.STREAM_ABORTED})
            raise StreamAbortedError(f"S3 stream failed at byte {position}") from err

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._watch.close()
        try:
            self._body.close()
        finally:
            self._on_close()
