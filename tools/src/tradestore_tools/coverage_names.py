"""Coverage plugin: the seed's service names are coverage source names for TradeStore's packages.

The test design (seed section 6) measures the API with `--cov=TradeData`, the compose service's name;
the package is `tradedata`. Coverage would look for a module called TradeData and report "never
imported". This configurer maps each service name to its package before measuring starts, so
`pytest --cov=TradeData` measures `tradedata`. Enabled by `[tool.coverage.run] plugins` in pyproject.toml.
"""

from __future__ import annotations

from typing import Any

from coverage import CoveragePlugin
from coverage.plugin_support import Plugins
from coverage.types import TConfigurable

SERVICE_PACKAGES = {
    "TradeData": "tradedata",
    "KafkaConsumer": "kafkaconsumer",
    "KafkaConsumerMSSQL": "kafkaconsumermssql",
}


def package_names(sources: list[str]) -> list[str]:
    """The sources with each service name replaced by its package (anything else kept as it is)."""
    return [SERVICE_PACKAGES.get(source, source) for source in sources]


class ServiceNames(CoveragePlugin):
    def configure(self, config: TConfigurable) -> None:
        sources = config.get_option("run:source")
        if isinstance(sources, list):
            config.set_option("run:source", package_names([str(s) for s in sources]))


def coverage_init(reg: Plugins, options: dict[str, Any]) -> None:
    reg.add_configurer(ServiceNames())
