"""The domain: the one-time hosted-zone stack (`stack`) and the pre-deploy delegation check (`check`, a CLI)."""

from .stack import DnsStack

__all__ = ["DnsStack"]
