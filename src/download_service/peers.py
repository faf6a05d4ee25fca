"""Who the client of a request is: what the access log records and what the per-client stream cap counts."""

from __future__ import annotations

import ipaddress


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


def client_ip(environ: dict, trusted: TrustedProxies) -> str:
    """The last X-Forwarded-For entry when the TCP peer is a trusted proxy (the ALB appends the address it saw;
    earlier entries are whatever the client sent), else the TCP peer itself, so a client talking to the service
    directly cannot pick the identity its streams are counted under."""
    peer = environ.get("REMOTE_ADDR") or ""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and peer in trusted:
        return forwarded.rsplit(",", 1)[-1].strip()
    return peer
