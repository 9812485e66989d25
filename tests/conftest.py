"""Test tiers by folder (markers), and the real-service fixtures (tests/fixtures/*)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["fixtures.kafka", "fixtures.api", "fixtures.mongo", "fixtures.sql", "fixtures.pipeline"]

_TIERS = ("unit", "contract", "integration", "perf")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        parts = Path(str(item.path)).relative_to(root).parts
        if parts and parts[0] in _TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))
