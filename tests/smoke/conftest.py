"""The smoke suite's only inputs: a base URL and one known object.

In the pipeline (and against any deployment) they come from the environment:
    SMOKE_BASE_URL       e.g. https://files.example.com  (the stage's ServiceUrl output)
    SMOKE_OBJECT_KEY     a key the stage holds; both unset: the canary object every stage seeds
    SMOKE_OBJECT_SHA256  its SHA-256, hex
Without SMOKE_BASE_URL (make test, CI) the suite starts its own target: SeaweedFS plus the production gunicorn
server on loopback, with a canary object uploaded, so the same tests run on every commit. Inputs that cannot work
stop the run before any test, in one line (pytest's "ERROR: ..." on stderr).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping

import pytest

from canary.target import Target
from devtools.local_stack import LocalStack
from stages.canary import CANARY_KEY, canary_sha256

LOCAL_BUCKET = "smoke-files"
LOCAL_KEY = "_canary/smoke check ü.txt"
LOCAL_BODY = b"canary object for the smoke suite\n" * 100
#: Per request: a deployed stage answers within a second; the margin is for a cold pipeline build host.
TIMEOUT_S = 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


def remote_inputs(env: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(base URL, key, SHA-256) of a deployed stage, or None without SMOKE_BASE_URL (a local target is started).

    Raises pytest.UsageError, one line saying what is missing or wrong."""
    url = env.get("SMOKE_BASE_URL")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise pytest.UsageError(f"make smoke: SMOKE_BASE_URL must start with http:// or https://, not {url!r}")
    key, sha256 = env.get("SMOKE_OBJECT_KEY"), env.get("SMOKE_OBJECT_SHA256")
    if not key and not sha256:
        return url, CANARY_KEY, canary_sha256()
    if not key or not sha256:
        raise pytest.UsageError(
            "make smoke: SMOKE_OBJECT_KEY (a key the stage holds) and SMOKE_OBJECT_SHA256 (its SHA-256, hex) go "
            f"together; leave both unset to check the canary object every stage seeds ({CANARY_KEY})"
        )
    if not _SHA256.fullmatch(sha256.lower()):
        raise pytest.UsageError(f"make smoke: SMOKE_OBJECT_SHA256 must be 64 hex digits, not {sha256!r}")
    return url, key, sha256.lower()


def pytest_configure(config: pytest.Config) -> None:
    remote_inputs(os.environ)  # wrong inputs stop the run here, before a test fails for each


@pytest.fixture(scope="session")
def target(tmp_path_factory):
    remote = remote_inputs(os.environ)
    if remote is not None:
        yield Target(*remote, timeout=TIMEOUT_S)
        return
    with LocalStack(LOCAL_BUCKET, root=tmp_path_factory.mktemp("smoke")) as stack:
        stack.client().put_object(Bucket=LOCAL_BUCKET, Key=LOCAL_KEY, Body=LOCAL_BODY, ContentType="text/plain")
        with stack.server() as server:
            yield Target(server.url, LOCAL_KEY, hashlib.sha256(LOCAL_BODY).hexdigest(), timeout=TIMEOUT_S)
