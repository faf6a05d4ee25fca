"""Flask app factory: `/`, `/health` and `GET|HEAD /files/<key>`."""

from __future__ import annotations

import functools
import logging
import uuid

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from . import contract
from .download import Downloads
from .logs import REQUEST_ID_ENVIRON, VERSION_ENVIRON
from .peers import CLIENT_IP_ENVIRON, TrustedProxies, client_ip
from .responses import error_response
from .s3 import S3Clients
from .settings import Settings

log = logging.getLogger("download_service")


class FilesKeyConverter(BaseConverter):
    """Everything after `/files`: nothing, or `/` followed by anything at all (an empty key, a leading slash,
    newlines and other control characters). Werkzeug's own `path` converter cannot stand in: it needs at least one
    character, refuses a leading slash and its `.` stops at a newline, yet those are bad keys to answer with 400
    (405 for another method), not unknown paths. The key is validated from the raw request bytes
    (request_key_bytes), not from this routed value, which Werkzeug has decoded lossily."""

    regex = r"(?s:(?:/.*)?)"
    part_isolating = False  # the match spans slashes


def create_app(settings: Settings | None = None, clients: S3Clients | None = None) -> Flask:
    """Build the WSGI app. Settings come from the environment unless given; a bad value raises ConfigError."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    # S3 keys may not be normalised behind the client's back: no slash merging, no redirects.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.url_map.converters["files_key"] = FilesKeyConverter
    app.json.sort_keys = False
    downloads = Downloads(settings, clients or S3Clients(settings))
    app.extensions["download_service"] = downloads
    identify = functools.partial(
        client_ip, trusted=TrustedProxies(settings.forwarded_allow_ips), header=settings.client_ip_header
    )

    @app.before_request
    def assign_request_id() -> None:
        g.request_id = uuid.uuid4().hex
        request.environ[REQUEST_ID_ENVIRON] = g.request_id
        request.environ[VERSION_ENVIRON] = settings.version
        # Who the client is, decided once: its download slots and its access line use the same answer.
        request.environ[CLIENT_IP_ENVIRON] = identify(request.environ)

    @app.after_request
    def add_request_id(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response

    @app.get("/", provide_automatic_options=False)
    def index():
        # The version changes with every release: a cache must never show the previous one during a rollout.
        return {"service": contract.SERVICE_NAME, "version": settings.version}, {"Cache-Control": "no-store"}

    @app.get(contract.HEALTH_PATH, provide_automatic_options=False)
    def health():
        # Liveness only: never calls S3, so an S3 outage does not make the ALB kill every task.
        response = jsonify(status="ok")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get(contract.FILES_PATH.rstrip("/") + "<files_key:_key>", provide_automatic_options=False)
    def files(_key: str):
        # The routed value went through Werkzeug's lossy UTF-8 decoding; validate the bytes the client sent.
        return downloads.serve(request, request_key_bytes(request.environ))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = error.get_response()
        return error_response(error.code or 500, error.name.lower(), response.headers.get("Allow"))

    @app.errorhandler(ClientError)
    @app.errorhandler(BotoCoreError)
    def storage_error(error: Exception):
        return downloads.failure_response(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
        return error_response(500, "internal error")

    return app


def request_key_bytes(environ: dict) -> bytes:
    """The percent-decoded path bytes after `/files/` (WSGI carries them as a latin-1 string)."""
    path = environ.get("PATH_INFO", "")
    return path[len(contract.FILES_PATH) :].encode("latin-1", "replace")
