"""Where a deployment is and how a check talks to it: one request per fresh connection, stdlib only.

Shared by canary/checks.py (which every caller goes through), the hook's readiness wait and the probe. Guarantees:
a request sends the target's headers and a User-Agent, reads at most MAX_BODY_BYTES of the body, and either returns
the complete answer or raises OSError / http.client.HTTPException (a timeout, a refused or reset connection, a TLS
failure, a truncated body).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 10.0
MAX_BODY_BYTES = 8 * 1024 * 1024
USER_AGENT = "download-service-checks/1"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class ConfigError(ValueError):
    """A missing or invalid setting; the message names the environment variable."""


@dataclass(frozen=True)
class Target:
    """A deployment to check: its base URL (scheme, host, optional port and path prefix) and one seeded object,
    `key` being what follows /files/ and `sha256` its hex digest. `headers` go on every request."""

    base_url: str
    key: str
    sha256: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def object_path(self) -> str:
        return files_path(self.key)


def target_from_env(url_variable: str, environ: Mapping[str, str] | None = None, **options) -> Target:
    """A Target from the environment: the base URL in `url_variable`, the object in OBJECT_KEY and OBJECT_SHA256.
    Raises ConfigError naming the first variable that is missing or invalid. `options` go to Target."""
    environ = os.environ if environ is None else environ

    def required(name: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"{name} is not set")
        return value

    base_url = required(url_variable)
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{url_variable} must be an http:// or https:// URL with a host")
    key = required("OBJECT_KEY")
    sha256 = required("OBJECT_SHA256").lower()
    if not _SHA256_RE.match(sha256):
        raise ConfigError("OBJECT_SHA256 must be 64 hex digits")
    return Target(base_url, key, sha256, **options)


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> object:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def files_path(key: str) -> str:
    return "/files/" + urllib.parse.quote(key)


def request(target: Target, method: str, path: str, headers: Mapping[str, str] | None = None) -> Response:
    """One request on a fresh connection (so one answer can never leak into the next). Raises OSError or
    http.client.HTTPException when no complete answer comes."""
    parts = urllib.parse.urlsplit(target.base_url)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=target.timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=target.timeout)
    sent = {"User-Agent": USER_AGENT, **target.headers, **(headers or {})}
    try:
        connection.request(method, parts.path.rstrip("/") + path, headers=sent)
        answer = connection.getresponse()
        return Response(answer.status, answer.headers, answer.read(MAX_BODY_BYTES + 1))
    finally:
        connection.close()
