"""Test tiers by folder (markers), and the real-service fixtures (tests/fixtures/*)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests judge behaviour, never speed: on a loaded machine (or under coverage/mutation tracing)
# generation is slow, and the too_slow health check and per-example deadlines would fail correct code.
settings.register_profile("tradestore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tradestore")

pytest_plugins = ["fixtures.kafka", "fixtures.api", "fixtures.mongo", "fixtures.sql", "fixtures.pipeline"]

_TIERS = ("unit", "contract", "integration", "perf")
# Markers from the services a test's fixtures need, so suites are selected by what they need (`-m`),
# never by name substrings: the compose test profile runs e2e, mongo and sql tests in separate containers.
_NEEDS = {
    "pipeline": "e2e",  # the whole stack: API, both consumers, both stores
    "mongo_url": "mongo",
    "sql_url": "sql",
    "local_pipeline": "local_only",  # this machine's stack, stopped and restarted by the test
    "own_mongo": "local_only",
    "postgres_server": "local_only",
    "browser": "local_only",  # this machine's Chromium (Debian package), not in the compose tests image
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        parts = Path(str(item.path)).relative_to(root).parts
        if parts and parts[0] in _TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))
        for marker in sorted({_NEEDS[f] for f in getattr(item, "fixturenames", ()) if f in _NEEDS}):
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Commands run in-process point the root logger at the (captured, later closed) stderr: undo it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
