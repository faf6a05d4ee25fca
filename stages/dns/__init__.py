"""The domain: the one-time hosted-zone stack (`stack`) and the pre-deploy delegation check (`check`, a CLI)."""

__all__ = ["DnsStack"]


def __getattr__(name: str):
    # DnsStack brings in the CDK (seconds to start its Node runtime): loaded when first asked for, so `config` and
    # `check` import without it (app.load, make bootstrap, make check-dns).
    if name == "DnsStack":
        from .stack import DnsStack

        return DnsStack
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
