"""A real shared cache in front of the service, for tests: Debian's nginx with proxy_cache, configured from
download_service.cache_policy as the CDN is, on a free loopback port, in a folder of its own.

    with SharedCache(origin_port=server.port) as cache:   # started; stopped (and its folder removed) on exit
        requests.get(cache.url + "/files/a.bin")           # X-Cache-Status: MISS, then HIT

What it does as CloudFront does (docs/cdn.md maps each line to the CDN's setting):
- the key is the path alone; the query string is neither in the key nor sent to the origin;
- the origin gets no viewer header but CloudFront-Viewer-Address (the viewer's address and port) and the
  X-Forwarded-For CloudFront appends to, as the origin request policy sends (cache_policy.ORIGIN_REQUEST_HEADERS);
- the origin's Cache-Control alone decides what is stored and for how long (MinTTL = DefaultTTL = 0, an
  ErrorCachingMinTTL of 0 for every error): no-store is never stored, nor an answer without freshness;
- an expired entry is revalidated with the ETag it was stored with (If-None-Match), and a 304 renews it;
- simultaneous misses for one key wait for the first one's answer (request collapsing; nginx: proxy_cache_lock);
- GET and HEAD are cached, a Range is answered from the stored object; nothing is compressed.
Where nginx differs (it fetches a whole object on a ranged miss, where CloudFront may fetch a range; it has no MaxTTL
cap, which the service never reaches since DOWNLOAD_TTL_S <= MAX_TTL_S) is said in docs/cdn.md.

Every answer carries X-Cache-Status (nginx's $upstream_cache_status: MISS, HIT, EXPIRED, REVALIDATED, ...), as
CloudFront's carry X-Cache.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from devtools.seaweed import free_ports
from download_service import cache_policy

#: How long a collapsed request waits for the first one's answer before going to the origin itself (and how long
#: the first may take before a second is let through): longer than any object the tests fetch takes.
LOCK_TIMEOUT_S = 60
NGINX = "nginx"


def nginx_config(root: Path, port: int, origin_port: int) -> str:
    """The whole nginx.conf: everything under `root`, listening on 127.0.0.1:`port`, in front of the service on
    127.0.0.1:`origin_port`."""
    # As root, nginx's workers would run as nobody, who cannot enter a test's private temporary folders.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    # The origin request policy's headers, with what CloudFront puts in them (the viewer's address and port).
    sent = "\n".join(
        f"            proxy_set_header {header} $remote_addr:$remote_port;"
        for header in cache_policy.ORIGIN_REQUEST_HEADERS
    )
    # What this configuration takes for granted of the policy: a key of the path alone ($edge_path), and no
    # proxy_cache_valid, since nothing is stored on the cache's own authority.
    key_parts = cache_policy.CACHE_KEY_HEADERS + cache_policy.CACHE_KEY_COOKIES + cache_policy.CACHE_KEY_QUERY_STRINGS
    if (
        key_parts
        or cache_policy.MIN_TTL_S
        or cache_policy.DEFAULT_TTL_S
        or any(cache_policy.ERROR_CACHING_MIN_TTL_S.values())
    ):
        raise ValueError("cache_policy changed: devtools/shared_cache.py must be taught the new key or TTLs")
    return f"""
{user}
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    log_format edge '$remote_addr "$request" $status $body_bytes_sent cache=$upstream_cache_status '
                    'origin=$upstream_status';
    access_log {root}/access.log edge;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy_temp;
    fastcgi_temp_path {root}/fastcgi_temp;
    uwsgi_temp_path {root}/uwsgi_temp;
    scgi_temp_path {root}/scgi_temp;
    proxy_cache_path {root}/cache levels=1:2 keys_zone=edge:10m max_size=2g inactive=1h use_temp_path=off;
    gzip {"on" if cache_policy.COMPRESS else "off"};

    # The cache key, and the path sent to the origin: the request's path as the viewer sent it, without the query.
    map $request_uri $edge_path {{
        "~^(?<path>[^?]*)" $path;
    }}
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin$edge_path;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers off;
{sent}
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_cache edge;
            proxy_cache_key $edge_path;
            proxy_cache_methods {" ".join(cache_policy.CACHED_METHODS)};
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            proxy_cache_lock_timeout {LOCK_TIMEOUT_S}s;
            proxy_cache_lock_age {LOCK_TIMEOUT_S}s;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""


class SharedCache:
    """nginx as a shared cache in front of 127.0.0.1:`origin_port`; its files (configuration, cache, logs) in a
    temporary folder removed at stop()."""

    def __init__(self, origin_port: int) -> None:
        self.origin_port = origin_port
        self.port = free_ports(1)[0]
        self.root = Path(tempfile.mkdtemp(prefix="shared-cache-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> SharedCache:
        nginx = shutil.which(NGINX) or shutil.which(NGINX, path="/usr/sbin:/sbin")
        if nginx is None:
            raise RuntimeError("nginx is not installed: make system-deps installs it (Debian package nginx)")
        config = self.root / "nginx.conf"
        config.write_text(nginx_config(self.root, self.port, self.origin_port))
        with open(self.root / "stderr.log", "wb") as stderr:
            self.process = subprocess.Popen(
                [nginx, "-p", str(self.root), "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                errors = self._errors()
                self.stop()
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {errors}")
            try:
                # Listening is enough: a request would reach the origin, and count among the tests' origin requests.
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        errors = self._errors()
        self.stop()
        raise RuntimeError(f"nginx not listening after {timeout:.0f} s: {errors}")

    def _errors(self) -> str:
        logs = (self.root / "stderr.log", self.root / "error.log")
        return "".join(path.read_text(errors="replace") for path in logs if path.exists())

    def log_lines(self) -> list[str]:
        """nginx's access lines so far: `address "request" status bytes cache=<status> origin=<status>`."""
        path = self.root / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SharedCache:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
