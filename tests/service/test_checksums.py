"""The service neither asks S3 for a response checksum nor computes one (S3Clients: response_checksum_validation
"when_required"; why: docs/performance.md, "Checksums on GET").

By default botocore (>= 1.36) sends `x-amz-checksum-mode: ENABLED` with every GetObject and, for an object uploaded
in one part, wraps the body in a StreamingChecksumBody that runs CRC32 over every byte. That body validates only
when a read returns nothing (botocore/httpchecksum.py), a read the stream never makes: it stops at Content-Length.
So the service paid for the checksum of every single-part object and never compared it.
"""

from __future__ import annotations

import io

import pytest
from botocore.exceptions import FlexibleChecksumError
from botocore.httpchecksum import Crc32Checksum, StreamingChecksumBody
from botocore.response import StreamingBody

from .conftest import BUCKET

DATA = b"single part object " * 1000


def test_a_single_part_object_is_read_without_a_checksum(service, s3):
    s3.put_object(Bucket=BUCKET, Key="one-part.bin", Body=DATA, ChecksumAlgorithm="CRC32")
    sent: list[dict] = []
    service.s3.meta.events.register("before-send.s3.GetObject", lambda request, **_: sent.append(request.headers))
    try:
        obj = service.s3.get_object(Bucket=BUCKET, Key="one-part.bin")
    finally:
        service.s3.meta.events.unregister("before-send.s3.GetObject")
    assert "x-amz-checksum-mode" not in {name.lower() for name in sent[0]}
    assert type(obj["Body"]) is StreamingBody  # not StreamingChecksumBody: no CRC over the bytes
    assert obj["Body"].read() == DATA


def test_the_download_is_byte_identical(service, s3):
    s3.put_object(Bucket=BUCKET, Key="one-part.bin", Body=DATA, ChecksumAlgorithm="CRC32")
    response = service.client.get("/files/one-part.bin")
    assert response.status_code == 200
    assert response.data == DATA


def test_botocore_validates_only_on_a_read_past_the_end():
    # What the decision rests on: a body whose checksum is wrong reads to its last byte without an error; only
    # a further read, which returns b"", compares. If botocore starts checking earlier, revisit the decision.
    body = StreamingChecksumBody(io.BytesIO(DATA), len(DATA), Crc32Checksum(), expected="AAAAAA==")
    assert body.read(len(DATA)) == DATA
    with pytest.raises(FlexibleChecksumError):
        body.read(1)
