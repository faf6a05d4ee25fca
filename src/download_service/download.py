"""The download endpoint: one S3 request per client request, streamed in constant memory (the body: stream.py)."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from flask import Request, Response, g

from . import contract, http_rules
from .contract import Event
from .http_rules import ByteRange, Preconditions
from .keys import InvalidKeyError, decode_key
from .logs import REFUSAL_ENVIRON
from .peers import CLIENT_IP_ENVIRON
from .responses import error_response
from .s3 import S3Clients, classify, s3_error_code, s3_status
from .settings import Settings
from .slots import Admission, Slot, SlotRefusedError
from .stream import ResumableStream, StreamAbortedError
from .watchdog import NoWatch, StallWatchdog, Watch

log = logging.getLogger("download_service")

_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_UNSATISFIED_RE = re.compile(r"^bytes \*/(\d+)$")


class _Owner(NamedTuple):
    """What a GET's stream takes over from its request: the slot it frees on close, and its watch (opened only
    when there is a stream to watch)."""

    slot: Slot
    watch: Callable[[], Watch | NoWatch]


class Downloads:
    """Serves `GET|HEAD /files/<key>`. Guarantees: at most one S3 request per client request (the only exception
    is an If-Range that no longer matches, which needs the full object after the ranged one); never more than
    `settings.max_downloads_per_worker` streams at once per worker, so health checks always find a free thread, nor
    more than `settings.max_streams_per_client` per client in the task; a stream whose client stops reading is
    closed after `settings.stall_timeout_s`, and one whose client stays under `settings.min_rate` for a window
    (watchdog.py)."""

    def __init__(self, settings: Settings, clients: S3Clients) -> None:
        self._settings = settings
        self._clients = clients
        self.admission = Admission(settings.max_downloads_per_worker, settings.max_streams_per_client)
        self._watchdog = StallWatchdog(settings.stall_timeout_s, settings.min_rate)

    # --- entry points ---------------------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Build this worker's S3 client now (gunicorn.conf.py's post_worker_init), not in its first request."""
        self._client()

    def serve(self, request: Request, raw_key: bytes) -> Response:
        try:
            key = decode_key(raw_key, self._settings.max_key_bytes)
        except InvalidKeyError as err:
            return error_response(400, f"invalid key: {err}")
        preconditions = Preconditions.from_headers(request.headers)
        byte_range = http_rules.parse_range(request.headers.get("Range"))
        if byte_range and preconditions.if_range_never_matches:
            byte_range = None
        # HEAD takes a slot too: against a hung S3 it holds a thread for the whole timeout, like a GET.
        client = request.environ[CLIENT_IP_ENVIRON]  # who the client is: decided by the app (peers.client_ip)
        try:
            slot = self.admission.acquire(client)
        except SlotRefusedError as refused:
            log.warning(refused.reason, extra={"event": refused.event, "client_ip": client})
            request.environ[REFUSAL_ENVIRON] = refused.event
            return error_response(refused.status, refused.answer, retry_after=contract.RETRY_AFTER_S)
        try:
            if request.method == "HEAD":
                response = self._head(key, preconditions, byte_range)
            else:
                watch = functools.partial(
                    self._watchdog.watch, request.environ, client_ip=client, request_id=g.get("request_id")
                )
                response = self._get(key, preconditions, byte_range, _Owner(slot, watch))
        except BaseException:
            slot.release()
            raise
        if not isinstance(response.response, ResumableStream):
            slot.release()
        return response

    def failure_response(self, error: Exception) -> Response:
        failure = classify(error)
        log.warning(
            "storage request failed",
            extra={
                "event": Event.S3_ERROR,
                "error_type": type(error).__name__,
                "s3_code": s3_error_code(error) if isinstance(error, ClientError) else None,
                "status": failure.status,
            },
        )
        response = error_response(failure.status, failure.message, retry_after=failure.retry_after)
        if failure.status == 404:  # the one error a shared cache may keep, briefly (cache_policy.py)
            response.headers["Cache-Control"] = self._settings.not_found_cache_control
        return response

    # --- HEAD -----------------------------------------------------------------------------------------------------

    def _head(self, key: str, preconditions: Preconditions, byte_range: ByteRange | None) -> Response:
        try:
            meta = self._client().head_object(**self._location(key), **preconditions.s3_arguments())
        except ClientError as err:
            return self._client_error(err, key)
        if (refused := self._refused(preconditions, meta)) is not None:
            return refused
        size = meta["ContentLength"]
        response = Response(status=200)
        self._set_object_headers(response, key, meta)
        response.headers["Content-Length"] = str(size)
        if byte_range and preconditions.range_applies(*_validators(meta)):
            span = byte_range.resolve(size)
            if span is None:
                return self._unsatisfiable(size)
            response.status_code = 206
            response.headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
            response.headers["Content-Length"] = str(span[1] - span[0] + 1)
        return response

    # --- GET ------------------------------------------------------------------------------------------------------

    def _get(self, key: str, preconditions: Preconditions, byte_range: ByteRange | None, owner: _Owner) -> Response:
        args = {**self._location(key), **preconditions.s3_arguments()}
        if byte_range:
            # A range no size can satisfy still needs the size for `Content-Range: bytes */N`: ask for one byte.
            args["Range"] = "bytes=0-0" if byte_range.always_unsatisfiable else byte_range.header()
        try:
            obj = self._client().get_object(**args)
        except ClientError as err:
            if byte_range and preconditions.if_range is not None and _unsatisfiable(err):
                # A stale If-Range means the Range is ignored (RFC 9110 §13.1.5), so S3's 416 may not be the
                # answer: only the object's validators can tell.
                return self._whole_unless_range_applies(key, preconditions, err, owner)
            return self._client_error(err, key)
        if (refused := self._refused(preconditions, obj)) is not None:
            return refused
        if byte_range and not preconditions.range_applies(*_validators(obj)):
            obj["Body"].close()
            obj = self._whole(key, preconditions)
            if isinstance(obj, Response):
                return obj
        elif byte_range and byte_range.always_unsatisfiable:
            obj["Body"].close()
            return self._unsatisfiable(_total_size(obj))
        return self._stream_response(key, obj, owner)

    def _whole(self, key: str, preconditions: Preconditions) -> dict | Response:
        """The whole object with its preconditions judged again (it may have changed since the ranged answer),
        or the error/304/412 response."""
        try:
            obj = self._client().get_object(**self._location(key), **preconditions.s3_arguments())
        except ClientError as err:
            return self._client_error(err, key)
        refused = self._refused(preconditions, obj)
        return obj if refused is None else refused

    def _whole_unless_range_applies(
        self, key: str, preconditions: Preconditions, unsatisfiable: ClientError, owner: _Owner
    ):
        obj = self._whole(key, preconditions)
        if isinstance(obj, Response):
            return obj
        if preconditions.range_applies(*_validators(obj)):
            obj["Body"].close()
            return self._client_error(unsatisfiable, key)
        return self._stream_response(key, obj, owner)

    def _stream_response(self, key: str, obj: dict, owner: _Owner) -> Response:
        length = obj["ContentLength"]
        match = _CONTENT_RANGE_RE.match(obj.get("ContentRange") or "")
        start = int(match.group(1)) if match else 0
        stream = ResumableStream(
            body=obj["Body"],
            start=start,
            end=start + length - 1,
            chunk_size=self._settings.chunk_size,
            reopen=lambda first, last: self._reopen(key, obj["ETag"], first, last),
            on_close=owner.slot.release,
            watch=owner.watch(),
        )
        try:
            stream.prime()
        except StreamAbortedError as err:
            # Nothing sent yet: the client still gets a status and JSON, not gunicorn's bare HTML 500.
            return self._stream_failure(err)
        response = Response(stream, status=206 if match else 200)
        self._set_object_headers(response, key, obj)
        response.headers["Content-Length"] = str(length)
        if match:
            response.headers["Content-Range"] = obj["ContentRange"]
        return response

    def _reopen(self, key: str, etag: str, first: int, last: int):
        """Continue a broken stream from S3, only if the object is still the one we started sending, and only if
        S3 really answered from `first` (a server that ignored Range would splice the wrong bytes in)."""
        obj = self._client().get_object(**self._location(key), Range=f"bytes={first}-{last}", IfMatch=etag)
        match = _CONTENT_RANGE_RE.match(obj.get("ContentRange") or "")
        if not match or int(match.group(1)) != first:
            obj["Body"].close()
            raise OSError(f"S3 did not resume at byte {first}")
        return obj["Body"]

    def _stream_failure(self, error: StreamAbortedError) -> Response:
        cause = error.__cause__
        if isinstance(cause, (ClientError, BotoCoreError)):
            return self.failure_response(cause)
        return error_response(502, "storage error")

    # --- helpers --------------------------------------------------------------------------------------------------

    def _client(self):
        return self._clients.get()

    def _location(self, key: str) -> dict:
        return {"Bucket": self._settings.files_bucket, "Key": self._settings.files_prefix + key}

    def _client_error(self, err: ClientError, key: str) -> Response:
        status = s3_status(err)
        headers = err.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if status in (304, 412):
            modified = http_rules.parse_http_date(headers.get("last-modified"))
            return self._precondition_response(status, headers.get("etag"), modified)
        if _unsatisfiable(err):
            size = err.response.get("Error", {}).get("ActualObjectSize")
            match = _UNSATISFIED_RE.match(headers.get("content-range", ""))
            return self._unsatisfiable(int(size) if size else int(match.group(1)) if match else None)
        return self.failure_response(err)

    def _refused(self, preconditions: Preconditions, meta: dict) -> Response | None:
        """The 304/412 the preconditions call for (closing the object's body, if any), or None to go on."""
        outcome = preconditions.evaluate(*_validators(meta))
        if outcome == 200:
            return None
        if "Body" in meta:
            meta["Body"].close()
        return self._precondition_response(outcome, *_validators(meta))

    def _precondition_response(self, status: int, etag: str | None, modified: datetime | None) -> Response:
        if status == 412:
            return error_response(412, "precondition failed")
        response = Response(status=304)
        if etag:
            response.headers["ETag"] = etag
        if modified:
            response.headers["Last-Modified"] = http_rules.http_date(modified)
        response.headers["Cache-Control"] = self._settings.cache_control
        return response

    def _unsatisfiable(self, size: int | None) -> Response:
        response = error_response(416, "range not satisfiable")
        if size is not None:
            response.headers["Content-Range"] = f"bytes */{size}"
        return response

    def _set_object_headers(self, response: Response, key: str, meta: dict) -> None:
        headers = response.headers
        # Metadata is whatever the uploader set: a value gunicorn would refuse would fail the response after
        # the stream (and its download slot) was handed over, so such a value is dropped instead.
        s3_type, encoding = (
            http_rules.header_safe(meta.get("ContentType")),
            http_rules.header_safe(meta.get("ContentEncoding")),
        )
        headers["Content-Type"] = http_rules.content_type(s3_type, key)
        headers["Content-Disposition"] = http_rules.content_disposition(key)
        if http_rules.header_safe(meta.get("ETag")):
            headers["ETag"] = meta["ETag"]
        if meta.get("LastModified"):
            headers["Last-Modified"] = http_rules.http_date(meta["LastModified"])
        if encoding:
            headers["Content-Encoding"] = encoding
        headers["Accept-Ranges"] = "bytes"
        headers["Cache-Control"] = self._settings.cache_control
        headers["X-Content-Type-Options"] = "nosniff"
        # Defence in depth should a browser render the file anyway: no scripts, no subresources.
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"


def _validators(meta: dict) -> tuple[str | None, datetime | None]:
    return meta.get("ETag"), meta.get("LastModified")


def _unsatisfiable(err: ClientError) -> bool:
    return s3_status(err) == 416 or s3_error_code(err) == "InvalidRange"


def _total_size(obj: dict) -> int:
    match = _CONTENT_RANGE_RE.match(obj.get("ContentRange") or "")
    return int(match.group(3)) if match and match.group(3) != "*" else obj["ContentLength"]
