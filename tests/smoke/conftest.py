"""The smoke suite's only inputs: a base URL and one known object.

In the pipeline (and against any deployment) they come from the environment:
    SMOKE_BASE_URL       e.g. https://files.example.com  (the stage's ServiceUrl output)
    SMOKE_OBJECT_KEY     a key the stage seeded (the canary object)
    SMOKE_OBJECT_SHA256  its SHA-256, hex
Without SMOKE_BASE_URL (make test, CI) the suite starts its own target: SeaweedFS plus the production gunicorn
server on loopback, with a canary object uploaded, so the same tests run on every commit.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from canary.target import Target
from devtools.local_stack import LocalStack

LOCAL_BUCKET = "smoke-files"
LOCAL_KEY = "_canary/smoke check ü.txt"
LOCAL_BODY = b"canary object for the smoke suite\n" * 100
#: Per request: a deployed stage answers within a second; the margin is for a cold pipeline build host.
TIMEOUT_S = 20


@pytest.fixture(scope="session")
def target(tmp_path_factory):
    if os.environ.get("SMOKE_BASE_URL"):
        yield Target(
            os.environ["SMOKE_BASE_URL"],
            os.environ["SMOKE_OBJECT_KEY"],
            os.environ["SMOKE_OBJECT_SHA256"],
            timeout=TIMEOUT_S,
        )
        return
    with LocalStack(LOCAL_BUCKET, root=tmp_path_factory.mktemp("smoke")) as stack:
        stack.client().put_object(Bucket=LOCAL_BUCKET, Key=LOCAL_KEY, Body=LOCAL_BODY, ContentType="text/plain")
        with stack.server() as server:
            yield Target(server.url, LOCAL_KEY, hashlib.sha256(LOCAL_BODY).hexdigest(), timeout=TIMEOUT_S)
