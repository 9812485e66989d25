"""The fault run's checks end to end on fake store readers: settle, lost, duplicate, regression, reconcile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from fixtures.consumers import make_trade
from shared.ports import Key, StoreSummary, TradeAudit
from shared.schema import TradePayload
from tradestore.posting import Posting
from tradestore.regress.scenario import summarize
from tradestore_tools.chaos.run import ChaosConfig, ChaosResult, check_readers
from tradestore_tools.chaos.verify import as_accepted

TODAY = date(2025, 10, 1)


def post(trade_id: str, version: int, **changes: Any) -> dict[str, Any]:
    return make_trade(trade_id, version=version, **changes)


ACKED = {"X-1": [post("X-1", 1), post("X-1", 2)], "X-2": [post("X-2", 1), post("X-2", 1, book_id="B-2")]}
GOOD = [post("X-1", 1), post("X-1", 2), post("X-2", 1), post("X-2", 1, book_id="B-2")]


class FakeReader:
    """A store that holds a fixed list of records (duplicates allowed), read like the real readers."""

    def __init__(self, name: str, posts: list[dict[str, Any]], duplicates: list[Key] | None = None) -> None:
        self.name = name
        self.records = as_accepted(posts, TODAY)
        self.duplicates = duplicates or []

    def summary(self, prefix: str = "") -> StoreSummary:
        return summarize(self.records)

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        return iter(sorted(self.records, key=lambda t: t.key))

    def expire(self, today: date) -> int:
        return 0

    def close(self) -> None:
        pass


def run_checks(mongo: FakeReader, sql: FakeReader) -> ChaosResult:
    result = ChaosResult(ChaosConfig(n=4, settle_s=2.0, quiet_s=0.1), Path("."), prefix="X-")
    result.posting = Posting(posts=4, acknowledged=4, acked=ACKED)
    readers: list[TradeAudit] = [mongo, sql]
    check_readers(result, readers, TODAY, duplicates=lambda r, _p: r.duplicates)  # type: ignore[attr-defined]
    result.faults_restored = result.consumers_alive = True
    return result


def verdicts(result: ChaosResult) -> dict[str, tuple[int, int, int, int]]:
    return {
        s.store: (len(s.lost), len(s.duplicated), len(s.regressions), len(s.unexpected))
        for s in result.stores
    }


def test_two_stores_with_the_expected_records_pass() -> None:
    result = run_checks(FakeReader("mongo", GOOD), FakeReader("sql", GOOD))
    assert result.ok
    assert verdicts(result) == {"mongo": (0, 0, 0, 0), "sql": (0, 0, 0, 0)}
    assert all(seconds >= 0 for seconds in result.settled.values())  # both matched


def test_a_lost_key_fails_the_run_and_reconcile() -> None:
    result = run_checks(FakeReader("mongo", GOOD), FakeReader("sql", GOOD[1:]))
    assert verdicts(result)["sql"] == (1, 0, 0, 0)
    assert result.settled["sql"] < 0  # never matched the expected summary
    assert result.reconciliation is not None
    assert result.reconciliation.missing_right == [("X-1", 1, "B-1")]
    assert not result.ok


def test_a_duplicate_reported_by_the_store_fails_the_run() -> None:
    result = run_checks(FakeReader("mongo", GOOD, duplicates=[("X-1", 2, "B-1")]), FakeReader("sql", GOOD))
    assert verdicts(result)["mongo"] == (0, 1, 0, 0)
    assert not result.ok


def test_a_version_regression_fails_the_run() -> None:
    regressed = [post("X-1", 1), post("X-1", 2, counterparty_id="CP-OLD"), *GOOD[2:]]
    result = run_checks(FakeReader("mongo", GOOD), FakeReader("sql", regressed))
    assert verdicts(result)["sql"] == (0, 0, 1, 0)
    assert not result.ok
