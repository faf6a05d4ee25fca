"""devtools/shared_cache.py: the nginx configuration it derives from cache_policy is one nginx accepts, it refuses
to run on a policy it was not written for, and a machine without nginx gets one line saying what to install."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from devtools import shared_cache
from download_service import cache_policy


def test_nginx_accepts_the_configuration(tmp_path):
    config = tmp_path / "nginx.conf"
    config.write_text(shared_cache.nginx_config(tmp_path, port=1, origin_port=2))
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert checked.returncode == 0, checked.stderr
    text = config.read_text()
    assert "proxy_cache_key $edge_path;" in text  # the path, without the query string
    assert "proxy_set_header CloudFront-Viewer-Address $remote_addr:$remote_port;" in text
    assert "proxy_cache_valid" not in text  # nothing is stored on the cache's own authority (DefaultTTL 0)
    assert "gzip off;" in text


@pytest.mark.parametrize(
    ("name", "value"),
    [("CACHE_KEY_HEADERS", ("Accept",)), ("DEFAULT_TTL_S", 60), ("ERROR_CACHING_MIN_TTL_S", {503: 10})],
)
def test_a_policy_it_does_not_implement_is_refused(tmp_path, monkeypatch, name, value):
    monkeypatch.setattr(cache_policy, name, value)
    with pytest.raises(ValueError, match=r"devtools/shared_cache\.py must be taught"):
        shared_cache.nginx_config(tmp_path, port=1, origin_port=2)


def test_without_nginx_one_line_says_what_to_install(monkeypatch):
    monkeypatch.setattr(shared_cache, "NGINX", "no-such-nginx")
    cache = shared_cache.SharedCache(origin_port=1)
    with pytest.raises(RuntimeError, match=r"^nginx is not installed: make system-deps installs it"):
        cache.start()
    cache.stop()
