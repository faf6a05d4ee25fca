"""Settings read once from environment variables and validated, so a bad value stops start-up with one line."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.utils import is_valid_uri

from . import cache_policy, contract
from .http_rules import header_safe
from .keys import MAX_KEY_BYTES
from .peers import TrustedProxies
from .watchdog import MinRate

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# Plain decimal only: int() and float() also take "8_080", "1e3", "inf" and "nan", which nobody means in a setting.
_INTEGER_RE = re.compile(r"^[0-9]+$")
_NUMBER_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")
#: CloudWatch's namespace alphabet (PutMetricData); "AWS/" is reserved for AWS's own metrics.
_NAMESPACE_RE = re.compile(r"^[0-9A-Za-z._/#: -]{1,255}$")
_TLS_MODES = ("off", contract.TLS_SELF_SIGNED)


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable and fits on one line."""


@dataclass(frozen=True)
class Settings:
    files_bucket: str
    files_prefix: str = ""
    host: str = "0.0.0.0"  # noqa: S104  # nosec B104 - the container must listen on its task ENI; the task SG admits only the ALB
    port: int = contract.PORT
    log_level: str = "info"
    cache_mode: str = cache_policy.PRIVATE
    cache_control: str = "private, max-age=300"  # of downloads (CACHE_CONTROL, or from DOWNLOAD_TTL_S when shared)
    not_found_cache_control: str = cache_policy.NO_STORE  # of a missing key's 404
    version: str = "dev"
    workers: int = 2
    threads: int = 32
    chunk_size: int = 1024 * 1024  # measured in docs/performance.md: fewer, larger writes cost less CPU per GiB
    s3_connect_timeout: float = 2.0
    s3_read_timeout: float = 10.0
    s3_max_attempts: int = 3
    forwarded_allow_ips: str = "127.0.0.1"
    client_ip_header: str = contract.FORWARDED_FOR_HEADER
    stall_timeout_s: float = contract.STALL_TIMEOUT_S
    min_rate_bytes_s: int = contract.MIN_RATE_BYTES_S
    min_rate_window_s: float = contract.MIN_RATE_WINDOW_S
    max_streams_per_client: int = contract.MAX_STREAMS_PER_CLIENT
    metrics_namespace: str = ""  # empty: no EMF lines (make run, tests)
    metrics_interval_s: int = contract.METRICS_INTERVAL_S
    tls: str = "off"

    @property
    def max_key_bytes(self) -> int:
        """The longest key a client may ask for: S3's limit less the prefix the service puts in front of it."""
        return MAX_KEY_BYTES - len(self.files_prefix.encode("utf-8"))

    @property
    def max_downloads_per_worker(self) -> int:
        """Streams a worker admits at once. The other threads stay free for /health and quick answers, so a
        worker full of slow downloads still passes its health check instead of being killed by the ALB."""
        return self.threads - max(2, self.threads // 8)

    @property
    def min_rate(self) -> MinRate | None:
        """The transfer-rate floor the watchdog holds downloads to, or None (MIN_RATE_BYTES_S=0)."""
        return MinRate(self.min_rate_bytes_s, self.min_rate_window_s) if self.min_rate_bytes_s else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        bucket = reader.text("FILES_BUCKET", required=True)
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise ConfigError(f"FILES_BUCKET: {bucket!r} is not a valid S3 bucket name")
        prefix = reader.text("FILES_PREFIX", default="")
        if prefix.startswith("/"):
            raise ConfigError("FILES_PREFIX: must not start with '/' (S3 keys have no leading slash)")
        if len(prefix.encode("utf-8")) >= MAX_KEY_BYTES:
            raise ConfigError(f"FILES_PREFIX: must be shorter than S3's {MAX_KEY_BYTES}-byte key limit")
        level = reader.text("LOG_LEVEL", default=cls.log_level).lower()
        if level not in _LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL: {level!r} is not one of {', '.join(_LOG_LEVELS)}")
        threads = reader.integer("THREADS", cls.threads, 4, 256)
        cache_mode, cache_control, not_found_cache_control = _cache_headers(reader, cls.cache_control)
        _check_endpoint(reader.text("AWS_ENDPOINT_URL_S3"))
        namespace = reader.text("METRICS_NAMESPACE")
        if namespace and (not _NAMESPACE_RE.match(namespace) or namespace.startswith("AWS/")):
            raise ConfigError(f"METRICS_NAMESPACE: {namespace!r} is not a CloudWatch namespace (A-Za-z0-9._/#: -)")
        forwarded = reader.text("FORWARDED_ALLOW_IPS", default=cls.forwarded_allow_ips)
        try:
            TrustedProxies(forwarded)
        except ValueError:
            raise ConfigError(f"FORWARDED_ALLOW_IPS: {forwarded!r} is not '*' or addresses/networks") from None
        client_ip_header = reader.text("CLIENT_IP_HEADER", default=cls.client_ip_header)
        known = {header.lower(): header for header in contract.CLIENT_IP_HEADERS}
        if client_ip_header.lower() not in known:
            raise ConfigError(
                f"CLIENT_IP_HEADER: {client_ip_header!r} is not one of {', '.join(contract.CLIENT_IP_HEADERS)}"
            )
        tls = reader.text("TLS", default="off")
        if tls not in _TLS_MODES:
            raise ConfigError(f"TLS: {tls!r} is not one of {', '.join(_TLS_MODES)}")
        return cls(
            files_bucket=bucket,
            files_prefix=prefix,
            host=reader.text("HOST", default=cls.host),
            port=reader.integer("PORT", cls.port, 1, 65535),
            log_level=level,
            cache_mode=cache_mode,
            cache_control=cache_control,
            not_found_cache_control=not_found_cache_control,
            version=reader.text("APP_VERSION", default=cls.version),
            workers=reader.integer("WORKERS", cls.workers, 1, 64),
            threads=threads,
            chunk_size=reader.integer("CHUNK_SIZE", cls.chunk_size, 4096, 16 * 1024 * 1024),
            s3_connect_timeout=reader.number("S3_CONNECT_TIMEOUT", cls.s3_connect_timeout, 0.1, 60),
            s3_read_timeout=reader.number("S3_READ_TIMEOUT", cls.s3_read_timeout, 0.1, 300),
            s3_max_attempts=reader.integer("S3_MAX_ATTEMPTS", cls.s3_max_attempts, 1, 10),
            forwarded_allow_ips=forwarded,
            client_ip_header=known[client_ip_header.lower()],
            stall_timeout_s=reader.number("STALL_TIMEOUT_S", cls.stall_timeout_s, 1, 600),
            # At most half of what a steady reader is guaranteed; a window of at least 2 s, so that it averages
            # over TCP's acknowledgements (about one a second from a 64 KiB/s reader).
            min_rate_bytes_s=reader.integer(
                "MIN_RATE_BYTES_S", cls.min_rate_bytes_s, 0, contract.STEADY_READER_BYTES_S // 2
            ),
            min_rate_window_s=reader.number("MIN_RATE_WINDOW_S", cls.min_rate_window_s, 2, 600),
            max_streams_per_client=reader.integer("MAX_STREAMS_PER_CLIENT", cls.max_streams_per_client, 1, 4096),
            metrics_namespace=namespace,
            # At most a minute: CloudWatch's standard resolution, so every one-minute period gets its datapoints.
            metrics_interval_s=reader.integer("METRICS_INTERVAL_S", cls.metrics_interval_s, 1, 60),
            tls=tls,
        )


def _cache_headers(reader: _Reader, private_default: str) -> tuple[str, str, str]:
    """(CACHE_MODE, Cache-Control of downloads, Cache-Control of a 404), from the variables of that mode only: a
    variable of the other mode is a mistake, refused rather than ignored (cache_policy.py)."""
    mode = reader.text("CACHE_MODE", default=cache_policy.PRIVATE)
    if mode not in cache_policy.CACHE_MODES:
        raise ConfigError(f"CACHE_MODE: {mode!r} is not one of {', '.join(cache_policy.CACHE_MODES)}")
    if mode == cache_policy.SHARED:
        if reader.text("CACHE_CONTROL"):
            raise ConfigError("CACHE_CONTROL: not with CACHE_MODE=shared (downloads then say DOWNLOAD_TTL_S)")
        download_ttl = reader.integer("DOWNLOAD_TTL_S", cache_policy.DOWNLOAD_TTL_S, 0, cache_policy.MAX_TTL_S)
        not_found_ttl = reader.integer(
            "NOT_FOUND_TTL_S", cache_policy.NOT_FOUND_TTL_S, 0, cache_policy.MAX_NOT_FOUND_TTL_S
        )
        return (
            mode,
            cache_policy.download_cache_control(download_ttl),
            cache_policy.not_found_cache_control(not_found_ttl),
        )
    for name in ("DOWNLOAD_TTL_S", "NOT_FOUND_TTL_S"):
        if reader.text(name):
            raise ConfigError(f"{name}: applies to CACHE_MODE=shared only")
    cache_control = reader.text("CACHE_CONTROL", default=private_default)
    if not header_safe(cache_control):
        raise ConfigError("CACHE_CONTROL: only printable ASCII can be sent as a header value")
    return mode, cache_control, cache_policy.NO_STORE


def _check_endpoint(url: str) -> None:
    """boto3 reads AWS_ENDPOINT_URL_S3 itself, but only when the first request builds the client: a typo would
    turn every download into a 500 instead of stopping start-up."""
    if not url:
        return
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ConfigError(f"AWS_ENDPOINT_URL_S3: {url!r} is not a valid URL (host or port)") from None
    # is_valid_uri is the check botocore itself makes when it builds the client (host name syntax included).
    if parts.scheme not in ("http", "https") or not parts.hostname or not is_valid_uri(url):
        raise ConfigError(f"AWS_ENDPOINT_URL_S3: {url!r} is not an http:// or https:// URL with a host")


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, *, default: str | None = None, required: bool = False) -> str:
        value = self._env.get(name, "").strip()
        if not value:
            if required:
                raise ConfigError(f"{name}: required but not set")
            return default or ""
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ConfigError(f"{name}: contains control characters")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        return self._bounded(name, default, low, high, int, _INTEGER_RE, "an integer")

    def number(self, name: str, default: float, low: float, high: float) -> float:
        return self._bounded(name, default, low, high, float, _NUMBER_RE, "a number")

    def _bounded(self, name, default, low, high, convert, shape, kind):
        raw = self.text(name)
        if not raw:
            return default
        if not shape.match(raw):
            raise ConfigError(f"{name}: {raw!r} is not {kind}")
        value = convert(raw)
        if not low <= value <= high:
            raise ConfigError(f"{name}: {value} is outside {low}..{high}")
        return value
