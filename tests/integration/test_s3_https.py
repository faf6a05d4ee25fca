"""S3 over HTTPS, as on AWS: the production config reading SeaweedFS's TLS port (devtools/certificates.py's CA in
AWS_CA_BUNDLE). Downloads and ranges are byte-identical, with and without TLS to the client, and botocore verifies
the certificate: the same server trusting other CAs cannot read S3 at all."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error

import pytest

from devtools.certificates import loopback_tls
from devtools.local_stack import LocalStack
from download_service import contract
from download_service.contract import Event

BUCKET = "https-files"
KEY = "big/5MiB.bin"
DATA = os.urandom(5 * 1024 * 1024 + 3)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with LocalStack(BUCKET, root=tmp_path_factory.mktemp("https-stack"), https=True) as running:
        running.client(https=True).put_object(Bucket=BUCKET, Key=KEY, Body=DATA)
        yield running


@pytest.mark.parametrize("client_tls", [False, True], ids=["client-http", "client-tls"])
def test_downloads_over_s3_https_are_byte_identical(stack, client_tls):
    env = {"TLS": contract.TLS_SELF_SIGNED} if client_tls else {}
    with stack.server(s3_https=True, LOG_LEVEL="warning", **env) as server:
        assert server.env["AWS_ENDPOINT_URL_S3"].startswith("https://127.0.0.1:")
        with server.urlopen(f"/files/{KEY}", timeout=60) as response:
            body = response.read()
        with server.urlopen(f"/files/{KEY}", headers={"Range": "bytes=1048570-2097160"}) as response:
            assert response.status == 206
            part = response.read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(DATA).digest()
    assert part == DATA[1048570:2097161]


def test_the_s3_certificate_is_verified(stack, tmp_path):
    # Another CA never signed the stack's certificate: botocore refuses the connection instead of reading S3.
    other_ca = loopback_tls(tmp_path).ca_file
    with stack.server(s3_https=True, LOG_LEVEL="warning", AWS_CA_BUNDLE=other_ca) as server:
        with pytest.raises(urllib.error.HTTPError) as refused:
            server.urlopen(f"/files/{KEY}")
        assert refused.value.code == 502
        errors = [r for r in map(json.loads, server.log_lines()) if r.get("event") == Event.S3_ERROR]
    assert [r["error_type"] for r in errors] == ["SSLError"]
