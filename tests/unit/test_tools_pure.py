"""Pure parts of the tools: regression scenario and checks, reconciliation, expiry schedule, stack helpers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr

from shared.ports import StoreSummary
from shared.rules import VersionDecision, plan_batch
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores.records import prefix_upper_bound
from tradestore.expiry import ExpiryScheduler, expire_all, seconds_to_next_run
from tradestore.local.stack import host_port
from tradestore.reconcile import reconcile
from tradestore.regress.check import summary_checks
from tradestore.regress.scenario import build_scenario, expected_outcome, summarize

TODAY = date(2026, 11, 24)


def trade(trade_id: str, version: int = 1, **changes: object) -> TradePayload:
    return TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": trade_id, "version": version, **changes})


def test_scenario_has_exactly_n_posts_and_the_promised_mix() -> None:
    scenario = build_scenario(1000, TODAY, "R-")
    posts = list(scenario.iter_posts())
    assert len(posts) == scenario.posts == 1000
    assert all(p["trade_id"].startswith("R-") for p in posts)
    assert scenario.expected_rejected > 0  # stale versions
    assert scenario.expected.expired > 0  # matured trades
    assert len(scenario.expected.per_book) == 5
    assert any(p["counterparty_id"] == "CP-OVERRIDE" for p in posts)
    assert max(p["version"] for p in posts) == 3
    assert build_scenario(1000, TODAY, "R-").groups == scenario.groups  # reproducible from the seed


def test_expected_outcome_applies_the_shared_version_rule_in_post_order() -> None:
    base = {**SAMPLE_TRADE, "maturity_date": "2030-01-01"}
    groups = {
        "T": [
            {**base, "trade_id": "T", "version": 1},
            {**base, "trade_id": "T", "version": 2},
            {**base, "trade_id": "T", "version": 1, "counterparty_id": "LATE"},
            {**base, "trade_id": "T", "version": 2, "counterparty_id": "NEW"},
        ]
    }
    records, rejected = expected_outcome(groups, TODAY)
    assert rejected == 1
    assert {k: t.counterparty_id for k, t in records.items()} == {
        ("T", 1, "B-1"): "CP-1",
        ("T", 2, "B-1"): "NEW",
    }
    assert [p.decision for p in plan_batch(((i, trade("T", v)) for i, v in enumerate([1, 2, 1])), {})] == [
        VersionDecision.INSERT,
        VersionDecision.INSERT,
        VersionDecision.REJECT_LOWER_VERSION,
    ]


def test_summary_checks_flag_each_store_that_differs() -> None:
    expected = summarize([trade("A"), trade("B", book_id="B-2", expired=True)])
    good = StoreSummary(2, {"B-1": 1, "B-2": 1}, {"A": 1, "B": 1}, 1)
    bad = StoreSummary(1, {"B-1": 1}, {"A": 1}, 0)
    checks = summary_checks(expected, {"mongo": good, "sql": bad})
    assert {c.name: c.ok for c in checks} == {
        "records": False,
        "records in B-1": True,
        "records in B-2": False,
        "trades with the right latest version": False,
        "expired": False,
    }
    assert all(c.ok for c in summary_checks(expected, {"mongo": good, "sql": good}))


class FakeReader:
    def __init__(self, name: str, trades: list[TradePayload]) -> None:
        self.name = name
        self.trades = sorted(trades, key=lambda t: t.key)
        self.expired_on: list[date] = []

    def summary(self, prefix: str = "") -> StoreSummary:
        return summarize(self.iter_trades(prefix))

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        return iter([t for t in self.trades if t.trade_id.startswith(prefix)])

    def expire(self, today: date) -> int:
        self.expired_on.append(today)
        return 1

    def close(self) -> None:
        pass


def test_reconcile_finds_missing_extra_and_different_records_in_one_pass() -> None:
    mongo = FakeReader("mongo", [trade("A"), trade("B"), trade("C", counterparty_id="X"), trade("E")])
    sql = FakeReader("sql", [trade("A"), trade("C", counterparty_id="Y"), trade("D"), trade("E")])
    result = reconcile(mongo, sql)
    assert result.missing_right == [("B", 1, "B-1")]
    assert result.missing_left == [("D", 1, "B-1")]
    assert result.different == [(("C", 1, "B-1"), {"counterparty_id": ("X", "Y")})]
    assert not result.clean
    assert result.compared == 5
    assert reconcile(mongo, FakeReader("sql", list(mongo.trades))).clean


def test_prefix_upper_bound_orders_after_every_string_with_the_prefix() -> None:
    bound = prefix_upper_bound("R1-")
    assert bound == "R1."
    assert "R1-" < "R1-zzzz" < "R1-\U0010ffff\U0010ffffz" < bound
    assert prefix_upper_bound("R\U0010ffff") == "S"  # nothing follows U+10FFFF: raise the character before
    assert prefix_upper_bound("\U0010ffff\U0010ffff") is None  # no string follows them all
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"  # surrogates cannot be stored


def test_expiry_runs_at_start_then_waits_for_the_next_day() -> None:
    now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert seconds_to_next_run(now) == timedelta(hours=1, minutes=5).total_seconds()
    reader = FakeReader("mongo", [])
    assert expire_all([reader], TODAY) == {"mongo": 1}
    scheduler = ExpiryScheduler([reader], now=lambda: now)
    ran = threading.Event()
    reader.expire = lambda today: ran.set() or 0  # type: ignore[method-assign]
    scheduler.start()
    assert ran.wait(5)
    scheduler.stop()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9092", ("127.0.0.1", 9092)),
        ("kafka:29092,other:1", ("kafka", 29092)),
        ("mongodb://app:pw@db:27018/x", ("db", 27018)),
        ("mongodb://localhost", ("localhost", 27017)),
    ],
)
def test_host_port_reads_addresses_and_urls(address: str, expected: tuple[str, int]) -> None:
    assert host_port(address, 27017) == expected


def test_settings_round_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        tradedata_port=9999, mongo_url=SecretStr("mongodb://u:p@h:1"), tradestore_matured_policy="reject"
    )
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    again = Settings()
    assert again.tradedata_port == 9999
    assert again.mongo_url_value == "mongodb://u:p@h:1"
    assert again.tradestore_matured_policy == "reject"
    assert again.sql_url_value == settings.sql_url_value
