"""Schemathesis against /openapi.json, in-process with a fake producer and reader: no 5xx, as documented.

FUZZ_EXAMPLES sets the examples per operation (positive and negative halves); 100 here, 500+ with
`tradestore fuzz` or FUZZ_EXAMPLES=500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from shared.settings import Settings
from tradedata.app import create_app
from tradestore_tools.faults.fuzz import AckingProducer, EmptyReader, FuzzReport, examples_from_env, fuzz_app

TODAY = date(2026, 11, 24)
KEY = "fuzz-key-0123456789"


def fuzz(examples: int, headers: dict[str, str] | None = None, **settings: Any) -> FuzzReport:
    cfg = Settings(tradestore_env="test", kafka_publish_timeout_s=0.5, **settings)
    app = create_app(cfg, producer=AckingProducer(), clock=lambda: TODAY, reader=EmptyReader())
    return fuzz_app(app, examples, headers=headers)


@pytest.fixture(autouse=True)
def quiet_auth_log() -> Iterator[None]:
    """Refusals are logged once per request; thousands of them would only bury a failure's report."""
    logger = logging.getLogger("tradedata.auth")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def assert_clean(report: FuzzReport) -> None:
    print(report.summary())
    assert report.failures == [], "\n\n".join(report.failures)
    assert report.server_errors == 0
    labels = {r.label for r in report.runs}
    assert {"POST /trades", "GET /health", "GET /ready"} <= labels
    for run in report.runs:
        assert run.skipped or run.examples > 0, f"{run.label} [{run.mode}] generated nothing"


def test_fuzzing_every_operation_with_auth_off_gives_no_5xx_and_documented_responses() -> None:
    report = fuzz(examples_from_env())
    assert_clean(report)
    post = [r for r in report.runs if r.label == "POST /trades"]
    assert sum(r.statuses[201] for r in post) > 0, "no generated trade was ever accepted"


def test_fuzzing_with_auth_on_never_lets_a_request_without_key_through() -> None:
    """schemathesis' ignored-auth check replays each case without the key and expects 401/403."""
    report = fuzz(
        max(20, examples_from_env() // 5),
        headers={"X-API-Key": KEY},
        tradedata_api_keys=KEY,
    )
    assert_clean(report)
