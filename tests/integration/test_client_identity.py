"""Who a client is, through the production gunicorn config: the access line's client_ip and the per-client cap
agree; behind CloudFront (CLIENT_IP_HEADER=CloudFront-Viewer-Address) a trusted proxy's header names the viewer,
although X-Forwarded-For ends with CloudFront's own address for every viewer; and a client that reaches the service
directly cannot choose its identity with either header, in either mode. Loopback stands for the load balancer when
FORWARDED_ALLOW_IPS trusts it (the default), for a direct client when it does not."""

from __future__ import annotations

import json

import pytest
import requests

from download_service import contract
from download_service.contract import Event

from .conftest import BIG_KEY, BUCKET

VIEWER = contract.VIEWER_ADDRESS_HEADER
#: Behind CloudFront and a VPC origin the ALB appends CloudFront's private address: the same for many viewers.
EDGE_FORWARDED = "198.51.100.1, 10.0.9.9"
CAP = 2
SMALL_KEY = "identity/small.txt"


@pytest.fixture(scope="module")
def small_object(s3) -> str:
    s3.put_object(Bucket=BUCKET, Key=SMALL_KEY, Body=b"small")
    return f"/files/{SMALL_KEY}"


def _access_line(server, response: requests.Response) -> dict:
    request_id = response.headers["X-Request-Id"]
    for _ in range(50):
        lines = [json.loads(line) for line in server.log_lines()]
        found = [r for r in lines if r.get("event") == Event.ACCESS and r.get("request_id") == request_id]
        if found:
            return found[0]
        requests.get(server.url + contract.HEALTH_PATH, timeout=10)  # let the access line reach the file
    raise AssertionError(f"no access line for request {request_id}")


def test_behind_cloudfront_the_viewer_address_names_the_client(start_server, big_object, small_object):
    server = start_server(CLIENT_IP_HEADER=VIEWER, MAX_STREAMS_PER_CLIENT=str(CAP))
    for viewer, expected in [("203.0.113.9:40001", "203.0.113.9"), ("2001:db8::9:40002", "2001:db8::9")]:
        response = requests.get(
            server.url + small_object, headers={"X-Forwarded-For": EDGE_FORWARDED, VIEWER: viewer}, timeout=10
        )
        assert response.status_code == 200
        assert _access_line(server, response)["client_ip"] == expected
    # The release hook reaches the load balancer without CloudFront: its own address, the ALB's last entry.
    hook = requests.get(server.url + small_object, headers={"X-Forwarded-For": "10.0.3.7"}, timeout=10)
    assert _access_line(server, hook)["client_ip"] == "10.0.3.7"
    held = [
        server.stalled_download(f"/files/{BIG_KEY}", headers={"X-Forwarded-For": EDGE_FORWARDED, VIEWER: viewer})
        for viewer in ("203.0.113.7:50001", "203.0.113.7:50002", "203.0.113.8:50003")
    ]
    try:
        assert [status for _, status in held] == [200, 200, 200]  # two of one viewer, one of another
        refused = requests.get(  # the first viewer again, on a new connection: a new port, the same viewer
            server.url + small_object,
            headers={"X-Forwarded-For": EDGE_FORWARDED, VIEWER: "203.0.113.7:50004"},
            timeout=10,
        )
        assert refused.status_code == 429
        record = _access_line(server, refused)
        assert (record["client_ip"], record["refused"]) == ("203.0.113.7", Event.CLIENT_LIMIT)
    finally:
        for sock, _ in held:
            sock.close()


@pytest.mark.parametrize("header", contract.CLIENT_IP_HEADERS)
def test_a_direct_client_cannot_choose_its_identity(start_server, big_object, small_object, header):
    # Loopback is not a trusted proxy here: what it claims in either header is not believed.
    server = start_server(CLIENT_IP_HEADER=header, FORWARDED_ALLOW_IPS="192.0.2.1", MAX_STREAMS_PER_CLIENT=str(CAP))
    claims = [{"X-Forwarded-For": f"203.0.113.{i}", VIEWER: f"203.0.113.{i}:{40000 + i}"} for i in range(CAP + 1)]
    held = [server.stalled_download(f"/files/{BIG_KEY}", headers=claim) for claim in claims[:CAP]]
    try:
        assert [status for _, status in held] == [200] * CAP
        refused = requests.get(server.url + small_object, headers=claims[CAP], timeout=10)
        assert refused.status_code == 429  # a third claimed identity is still the same client
        assert _access_line(server, refused)["client_ip"] == "127.0.0.1"
    finally:
        for sock, _ in held:
            sock.close()
    answered = requests.get(server.url + small_object, headers=claims[0], timeout=10)
    assert _access_line(server, answered)["client_ip"] == "127.0.0.1"
