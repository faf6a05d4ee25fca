"""Targets for the canary tests, all on 127.0.0.1: the production gunicorn on SeaweedFS serving the real canary
object (and a second object with other bytes), the same with its S3 stopped, and a stubbed ELBv2 client whose
ModifyRule calls are recorded and applied to a FakeTestListener."""

from __future__ import annotations

import contextlib

import boto3
import pytest
from botocore.stub import Stubber

from devtools.local_stack import LocalStack
from devtools.seaweed import free_ports
from stages.canary import CANARY_FILE, CANARY_KEY
from tests.canary.servers import FakeTestListener
from tests.canary.support import BUCKET, OTHER_KEY, Rule


def _serve(stack: LocalStack, **extra: str):
    client = stack.client()
    client.put_object(Bucket=BUCKET, Key=CANARY_KEY, Body=CANARY_FILE.read_bytes(), ContentType="text/plain")
    client.put_object(Bucket=BUCKET, Key=OTHER_KEY, Body=b"not the canary object\n", ContentType="text/plain")
    return stack.server(LOG_LEVEL="warning", **extra)


@pytest.fixture(scope="session")
def service_url(tmp_path_factory):
    """The service with both objects."""
    with LocalStack(BUCKET, root=tmp_path_factory.mktemp("canary")) as stack, _serve(stack) as server:
        yield server.url


@pytest.fixture(scope="session")
def s3_down_url(tmp_path_factory):
    """The service with both objects, after its S3 stopped: /health still answers, every S3 call fails (503)."""
    # One S3 attempt: a refused connection is not worth retrying, and the tests should not wait for backoff.
    with (
        LocalStack(BUCKET, root=tmp_path_factory.mktemp("canary-down")) as stack,
        _serve(stack, S3_MAX_ATTEMPTS="1") as server,
    ):
        stack.s3.stop()
        yield server.url


@pytest.fixture
def closed_url() -> str:
    """A loopback port nobody listens on (connections are refused)."""
    return f"http://127.0.0.1:{free_ports(1)[0]}"


@pytest.fixture
def rule():
    client = boto3.client(
        "elbv2", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stubbed = Rule(client, Stubber(client))
    client.meta.events.register("provide-client-params.elastic-load-balancing-v2.ModifyRule", stubbed.record)
    with stubbed.stubber:
        yield stubbed
    stubbed.stubber.assert_no_pending_responses()


@pytest.fixture
def listener_for(rule):
    """listener_for(upstream, propagation=0): a started FakeTestListener in front of `upstream` (None: no healthy
    target), whose rule the stubbed client's ModifyRule calls change."""
    with contextlib.ExitStack() as started:

        def make(upstream: str | None, propagation: int = 0) -> FakeTestListener:
            rule.listener = started.enter_context(FakeTestListener(upstream, propagation))
            return rule.listener

        yield make
