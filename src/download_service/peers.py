"""Who the client of a request is: what the access log records and what the per-client stream cap counts."""

from __future__ import annotations

import ipaddress
import re

from .contract import FORWARDED_FOR_HEADER, VIEWER_ADDRESS_HEADER

#: The WSGI environ key of the client's address, set once per request by the app (app.py) for the download slots and
#: the access log alike.
CLIENT_IP_ENVIRON = "download_service.client_ip"
_PORT_RE = re.compile(r"^[0-9]{1,5}$")


class TrustedProxies:
    """The peers whose X-Forwarded-For is believed: FORWARDED_ALLOW_IPS, the same list gunicorn trusts for its
    X-Forwarded-* handling ("*" on ECS, where only the ALB can reach a task; loopback locally). Comma-separated
    addresses or networks; raises ValueError for anything else, so a typo stops start-up."""

    def __init__(self, spec: str) -> None:
        entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
        self._everyone = "*" in entries
        self._networks = [ipaddress.ip_network(entry) for entry in entries if entry != "*"]

    def __contains__(self, address: str | None) -> bool:
        if self._everyone:
            return True
        try:
            peer = ipaddress.ip_address(address or "")
        except ValueError:
            return False  # a Unix socket or an unparsable peer: trust nothing it says
        return any(peer in network for network in self._networks)


def client_ip(environ: dict, trusted: TrustedProxies, header: str = FORWARDED_FOR_HEADER) -> str:
    """The client's address. From a trusted proxy: the last X-Forwarded-For entry (the ALB appends the address it
    saw; earlier entries are whatever the client sent), or with `header` CloudFront-Viewer-Address, the viewer's
    address in it (the last X-Forwarded-For entry when it is missing or malformed: a caller inside the VPC, such as
    the release hook, that reaches the load balancer without CloudFront). From any other peer: the TCP peer itself,
    so a client talking to the service directly cannot pick the identity its streams are counted under."""
    peer = environ.get("REMOTE_ADDR") or ""
    if peer not in trusted:
        return peer
    if header == VIEWER_ADDRESS_HEADER and (viewer := viewer_address(environ.get("HTTP_CLOUDFRONT_VIEWER_ADDRESS"))):
        return viewer
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded.rsplit(",", 1)[-1].strip() if forwarded else peer


def viewer_address(value: str | None) -> str | None:
    """The address in a CloudFront-Viewer-Address value, or None when there is none. AWS documents the value as the
    viewer's address, a colon and the source port ("198.51.100.10:46532",
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/adding-cloudfront-headers.html); an IPv6
    address comes the same way, without brackets ("2001:db8::1:46532"), so the port is what follows the last colon
    (brackets are accepted too). The port is dropped: it changes with every connection, the viewer does not. The
    address is returned in its canonical form, so that one viewer is one identity however it is spelt; of a repeated
    header (joined with commas), the last value counts, as in X-Forwarded-For."""
    address, colon, port = (value or "").rsplit(",", 1)[-1].strip().rpartition(":")
    if not colon or not _PORT_RE.match(port) or int(port) > 65535:
        return None
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
