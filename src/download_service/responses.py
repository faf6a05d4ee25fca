"""Response helpers shared by the routes."""

from __future__ import annotations

from flask import Response, g, jsonify


def error_response(status: int, message: str, allow: str | None = None, retry_after: int | None = None) -> Response:
    """Small JSON error body: our message and the request id, never S3's words, bucket names or tracebacks."""
    response = jsonify(error=message, request_id=g.get("request_id"))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if allow:
        response.headers["Allow"] = allow
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
