"""CDK stages for the download service (design §4)."""

from .config import AppConfig, ConfigError, StageConfig, load
from .dns import DnsStack
from .stage import ServiceStage

__all__ = ["AppConfig", "ConfigError", "DnsStack", "ServiceStage", "StageConfig", "load"]
