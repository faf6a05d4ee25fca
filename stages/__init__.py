"""The deployable copy of the download service (design §4): `ServiceStage` and its typed configuration.

Nothing here imports `pipeline/` or the composition root (`app.py`): they build on this package, never the reverse.
"""

from .config import ConfigError, StageConfig, load_stages

__all__ = ["ConfigError", "ServiceStage", "StageConfig", "load_stages"]


def __getattr__(name: str):
    # ServiceStage brings in the CDK, whose Node runtime takes seconds to start: loaded when first asked for, so the
    # pure modules (config, capacity) import without it, as `make bench` does to print the capacity model.
    if name == "ServiceStage":
        from .stage import ServiceStage

        return ServiceStage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
