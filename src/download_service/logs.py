"""JSON-lines logging for gunicorn and the app: CloudWatch Logs stores each line as one queryable event."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from gunicorn import glogging

from .contract import Event
from .peers import CLIENT_IP_ENVIRON

REQUEST_ID_ENVIRON = "download_service.request_id"
#: The release that answered (APP_VERSION): the per-release metrics the deployment alarm judges count by it.
VERSION_ENVIRON = "download_service.version"
#: Set when the service refused the request by choice (the Event.BUSY / Event.CLIENT_LIMIT name): the access line
#: carries it as `refused`, and the error metrics (stages/monitoring/logs.py) leave such lines out.
REFUSAL_ENVIRON = "download_service.refusal"
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
#: JSON may carry C1 controls and U+2028/U+2029 raw, but log viewers (and Python's splitlines) break lines at NEL,
#: LS and PS: escaped, a client-chosen path cannot split one record into two or forge a second one.
_LINE_BREAKERS = str.maketrans({c: f"\\u{ord(c):04x}" for c in [*map(chr, range(0x80, 0xA0)), "\u2028", "\u2029"]})


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, any `extra=` fields, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED and v is not None})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False).translate(_LINE_BREAKERS)


class GunicornJsonLogger(glogging.Logger):
    """gunicorn's logger with JSON output: error log on stderr, one access record per request on stdout.

    The service's own `download_service` logger shares the error log's handlers, so every line a task writes is
    JSON whatever emitted it.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(formatter)
        app_log = logging.getLogger("download_service")
        app_log.handlers = list(self.error_log.handlers)
        app_log.setLevel(self.error_log.level)
        app_log.propagate = False

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        self.access_log.info(
            Event.ACCESS,
            extra={
                "event": Event.ACCESS,
                "method": environ.get("REQUEST_METHOD"),
                "path": _text(environ.get("PATH_INFO", "")),
                "query": _text(environ.get("QUERY_STRING", "")) or None,
                "status": int(status),
                "bytes": getattr(resp, "sent", 0) or 0,
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                # What the app decided (peers.client_ip); the TCP peer for an answer gunicorn gave without the app
                # (a malformed request), whose environ carries no header to believe anyway.
                "client_ip": environ.get(CLIENT_IP_ENVIRON) or environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "trace_id": environ.get("HTTP_X_AMZN_TRACE_ID"),
                "request_id": environ.get(REQUEST_ID_ENVIRON),
                "version": environ.get(VERSION_ENVIRON),
                "refused": environ.get(REFUSAL_ENVIRON),
            },
        )


def _text(wsgi_string: str) -> str:
    """WSGI strings carry raw bytes as latin-1; log them as the UTF-8 the client meant, escaping invalid bytes."""
    return wsgi_string.encode("latin-1", "replace").decode("utf-8", "backslashreplace")
