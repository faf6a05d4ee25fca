"""The deployable copy of the download service (design §4): `ServiceStage` and its typed configuration.

Nothing here imports `pipeline/` or the composition root (`app.py`): they build on this package, never the reverse.
"""

from .config import ConfigError, StageConfig, load_stages
from .stage import ServiceStage

__all__ = ["ConfigError", "ServiceStage", "StageConfig", "load_stages"]
