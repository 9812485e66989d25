"""SqlStore's reads on every SQL backend: exact prefixes, code-point order, provenance, bounded expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from shared.ports import StoredTrade, StoreSummary, TradeFilter
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores.sql import SqlStore
from shared.stores.sql import store as sql_store
from tradestore.reconcile import reconcile

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TRICKY_IDS = ["T-1", "t-1", "T-10", "T_1", "TX1", "T%1", "T[1]", "T\\1", "✓-1", "\U0001f600-1", "\ue000-1"]


def stored(trade_id: str, offset: int = 0, principal: str | None = None, **changes: object) -> StoredTrade:
    payload = TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": trade_id, **changes})
    return StoredTrade(payload, 1, offset, NOW, principal)


@pytest.fixture
def store(sql_url: str) -> Iterator[SqlStore]:
    store = SqlStore.from_settings(Settings(sql_url=sql_url, sql_expire_batch_rows=3))  # type: ignore[arg-type]
    store.setup()
    try:
        yield store
    finally:
        store.close()


def ids(store: SqlStore, prefix: str) -> list[str]:
    return [t.trade_id for t in store.iter_trades(prefix)]


def test_prefix_reads_match_literally_and_case_sensitively(store: SqlStore) -> None:
    store.write([stored(tid, i) for i, tid in enumerate(TRICKY_IDS)])
    assert ids(store, "T-1") == ["T-1", "T-10"]
    assert ids(store, "t-") == ["t-1"]
    assert ids(store, "T_") == ["T_1"]  # '_' is not a wildcard
    assert ids(store, "T%") == ["T%1"]  # nor '%'
    assert ids(store, "T[") == ["T[1]"]  # nor SQL Server's '['
    assert ids(store, "T\\") == ["T\\1"]
    assert ids(store, "\U0001f600") == ["\U0001f600-1"]
    assert store.summary("T-1").total == 2
    assert store.summary("T-1").latest_version == {"T-1": 1, "T-10": 1}


def test_ids_differing_only_by_case_are_two_trades(store: SqlStore) -> None:
    assert store.write([stored("t-1", 1), stored("T-1", 2)]).written == 2
    assert store.count() == 2
    assert store.max_versions(["t-1", "T-1"]) == {"t-1": 1, "T-1": 1}


def test_trades_come_back_in_code_point_order_as_python_sorts_them(store: SqlStore) -> None:
    store.write([stored(tid, i) for i, tid in enumerate(reversed(TRICKY_IDS))])
    keys = [t.key for t in store.iter_trades()]
    assert keys == sorted(keys)
    assert keys[-2:] == [("\ue000-1", 1, "B-1"), ("\U0001f600-1", 1, "B-1")]  # UTF-16 would swap these


def test_an_id_of_64_code_points_outside_the_bmp_round_trips(store: SqlStore) -> None:
    long_id = "\U0001f600" * 64
    store.write([stored(long_id, 1)])
    assert ids(store, "\U0001f600") == [long_id]


def test_reads_return_the_principal_that_submitted_each_trade(store: SqlStore) -> None:
    store.write([stored("P-1", 1, principal="key-ops"), stored("P-1", 2, version=2)])
    assert [(s.trade.version, s.principal, s.offset) for s in store.versions("P-1")] == [
        (2, None, 2),
        (1, "key-ops", 1),
    ]
    assert store.versions("missing") == []
    assert store.versions("P-1")[0].persisted_at == NOW


def test_find_pages_in_key_order_with_filters_and_a_total(store: SqlStore) -> None:
    store.write([stored(f"F-{i}", i, book_id="B-2" if i % 2 else "B-1") for i in range(7)])
    page, total = store.find(TradeFilter(book_id="B-2"), limit=2, offset=1)
    assert total == 3
    assert [s.trade.trade_id for s in page] == ["F-3", "F-5"]
    _, expired = store.find(TradeFilter(expired=True), limit=10, offset=0)
    assert expired == 0


def test_expiry_flags_matured_trades_in_bounded_batches(store: SqlStore) -> None:
    matured = [stored(f"E-{i}", i, maturity_date=date(2026, 1, 1)) for i in range(10)]
    store.write([*matured, stored("LIVE", 99, maturity_date=date(2030, 1, 1))])
    updates: list[str] = []

    def count_updates(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "UPDATE" in statement.upper():
            updates.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count_updates)
    try:
        assert store.expire(date(2026, 11, 30)) == 10
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count_updates)
    assert len(updates) == 4  # 3 + 3 + 3 + 1: no statement touches more than SQL_EXPIRE_BATCH_ROWS
    assert store.expire(date(2026, 11, 30)) == 0
    assert store.summary().expired == 10
    assert [t.expired for t in store.iter_trades("LIVE")] == [False]


def test_reconcile_against_a_store_in_python_order_finds_no_false_differences(store: SqlStore) -> None:
    records = [stored(tid, i) for i, tid in enumerate(TRICKY_IDS)]
    store.write(records)

    class PythonOrdered:
        name = "python"

        def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
            return iter(
                sorted((r.trade for r in records if r.trade.trade_id.startswith(prefix)), key=lambda t: t.key)
            )

    result = reconcile(PythonOrdered(), store)  # type: ignore[arg-type]  # only iter_trades is used
    assert result.clean
    assert result.compared == len(TRICKY_IDS)


def test_find_returns_at_most_limit_rows_after_offset(store: SqlStore) -> None:
    store.write([stored(f"L-{i}", i) for i in range(5)])
    page, total = store.find(TradeFilter(), limit=2, offset=1)
    assert ([s.trade.trade_id for s in page], total) == (["L-1", "L-2"], 5)
    page, total = store.find(TradeFilter(counterparty_id="CP-1", expired=False), limit=1, offset=4)
    assert ([s.trade.trade_id for s in page], total) == (["L-4"], 5)


def test_summary_counts_per_book_and_expired_within_the_prefix_only(store: SqlStore) -> None:
    store.write(
        [
            stored("S-1", 1, book_id="B-1"),
            stored("S-1", 2, version=2, book_id="B-2", expired=True),
            stored("S-2", 3, book_id="B-1"),
            stored("X-1", 4, book_id="B-1", expired=True),
        ]
    )
    assert store.summary("S-") == StoreSummary(
        total=3, per_book={"B-1": 2, "B-2": 1}, latest_version={"S-1": 2, "S-2": 1}, expired=1
    )
    assert store.summary("NONE") == StoreSummary(total=0, per_book={}, latest_version={}, expired=0)
    assert [
        (t.trade.version, t.trade.book_id, t.trade.expired, t.partition, t.offset)
        for t in store.versions("S-1")
    ] == [
        (2, "B-2", True, 1, 2),
        (1, "B-1", False, 1, 1),
    ]


def test_lookups_over_more_ids_than_one_in_list_holds_find_every_one(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids are queried IDS_PER_QUERY per IN list (1000: SQL Server's parameter limit); 3 here, so 10 ids
    take four lists."""
    monkeypatch.setattr(sql_store, "IDS_PER_QUERY", 3)
    records = [stored(f"M-{i:02d}", i) for i in range(10)]
    assert store.write(records).written == 10
    ids = [r.trade.trade_id for r in records]
    assert store.max_versions(ids) == dict.fromkeys(ids, 1)
    assert store.stored_origins({r.key for r in records}) == {r.key: (1, r.offset) for r in records}
