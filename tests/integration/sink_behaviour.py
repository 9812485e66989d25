"""The sink behaviour suite, written once: what every store adapter (shared.ports) must do.

A backend mixes SinkBehaviour into a `Test...` class and provides two fixtures: `store`, a fresh,
set-up adapter on an empty store, and `poison`, a function making the store refuse one trade_id
deterministically (a constraint, a trigger, a unique index). (faststream's tests/brokers/base style.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.consumer.isolation import write_isolating
from shared.ports import StoredTrade, TradeFilter
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.stores import Store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
Poison = Callable[[Store, str], None]


def stored(offset: int = 0, principal: str | None = None, **changes: Any) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), 0, offset, NOW, principal)


def numbered(n: int, offset: int = 0, **changes: Any) -> StoredTrade:
    """Trade P-<n>, with its own counterparty (so a unique counterparty index can refuse just one)."""
    return stored(offset, trade_id=f"P-{n:04d}", counterparty_id=f"CP-P-{n:04d}", **changes)


class SinkBehaviour:
    """Mixed into one test class per backend."""

    def test_setup_twice_is_harmless(self, store: Store) -> None:
        store.setup()
        store.ping()

    def test_writing_twice_stores_each_trade_once(self, store: Store) -> None:
        batch = [stored(1), stored(2, trade_id="T-2")]
        assert store.write(batch).written == 2
        assert store.write(batch).written == 2
        assert store.summary().total == 2

    def test_a_replayed_batch_leaves_the_store_as_it_was_and_is_told_from_a_stale_copy(
        self, store: Store
    ) -> None:
        batch = [stored(1), stored(2, version=2)]
        assert store.write(batch).written == 2
        replay = store.write(batch)
        # a store may report its lower version stale (SQL, the fake: the pipeline then finds the record's own
        # origin stored, a replay) or admit it again as a record its head was raised for (MongoDB): either
        # way every record is accounted for and nothing stale is a record other than the stored one
        assert replay.written + len(replay.stale) == 2
        assert set(replay.stale) <= {("T-1001", 1, "B-1")}
        assert store.stored_origins(set(replay.stale)) == {k: (0, 1) for k in replay.stale}
        assert sorted((t.trade.version, t.offset) for t in store.versions("T-1001")) == [(1, 1), (2, 2)]
        assert store.summary().total == 2

    def test_same_key_overrides_the_stored_record(self, store: Store) -> None:
        store.write([stored(1, counterparty_id="CP-OLD")])
        store.write([stored(2, counterparty_id="CP-NEW")])
        assert [t.counterparty_id for t in store.iter_trades()] == ["CP-NEW"]

    def test_same_key_twice_in_one_batch_stores_the_last(self, store: Store) -> None:
        store.write([stored(1, counterparty_id="CP-A"), stored(2, counterparty_id="CP-B")])
        [only] = store.versions("T-1001")
        assert (only.trade.counterparty_id, only.offset) == ("CP-B", 2)

    def test_max_versions_reports_the_highest_per_trade(self, store: Store) -> None:
        store.write([stored(1), stored(2, version=3), stored(3, trade_id="T-2", version=2)])
        assert store.max_versions({"T-1001", "T-2", "T-none"}) == {"T-1001": 3, "T-2": 2}
        assert store.max_versions(set()) == {}

    def test_a_version_below_the_stored_one_is_stale_and_store_unchanged(self, store: Store) -> None:
        store.write([stored(1, version=3)])
        result = store.write([stored(2, version=2), stored(3, trade_id="T-2")])
        assert result.stale == {("T-1001", 2, "B-1"): 3}
        assert result.written == 1
        assert sorted(t.key for t in store.iter_trades()) == [("T-1001", 3, "B-1"), ("T-2", 1, "B-1")]

    def test_stored_origins_name_the_record_each_key_came_from(self, store: Store) -> None:
        store.write([stored(7), stored(8, version=2)])
        keys = {("T-1001", 1, "B-1"), ("T-1001", 2, "B-1"), ("T-1001", 9, "B-1")}
        assert store.stored_origins(keys) == {("T-1001", 1, "B-1"): (0, 7), ("T-1001", 2, "B-1"): (0, 8)}

    def test_reads_return_versions_highest_first_with_their_provenance(self, store: Store) -> None:
        store.write([stored(1, principal="key-a"), stored(2, version=2, principal="sub-b")])
        versions = store.versions("T-1001")
        assert [(v.trade.version, v.principal, v.offset) for v in versions] == [
            (2, "sub-b", 2),
            (1, "key-a", 1),
        ]
        assert versions[0].persisted_at == NOW
        assert store.versions("T-none") == []

    def test_find_filters_pages_in_key_order_and_counts(self, store: Store) -> None:
        store.write([stored(i, trade_id=f"F-{i}", book_id="B-2" if i % 2 else "B-1") for i in range(5)])
        page, total = store.find(TradeFilter(book_id="B-1"), limit=2, offset=1)
        assert total == 3
        assert [s.trade.trade_id for s in page] == ["F-2", "F-4"]
        assert store.find(TradeFilter(expired=True), 10, 0) == ([], 0)

    def test_summary_and_listing_are_limited_to_a_prefix(self, store: Store) -> None:
        store.write(
            [stored(1, trade_id="A-1"), stored(2, trade_id="A-2", version=2), stored(3, trade_id="B-1")]
        )
        summary = store.summary("A-")
        assert (summary.total, summary.per_book, summary.latest_version) == (
            2,
            {"B-1": 2},
            {"A-1": 1, "A-2": 2},
        )
        assert [t.trade_id for t in store.iter_trades("A-")] == ["A-1", "A-2"]

    def test_expiry_flags_matured_trades_once(self, store: Store) -> None:
        store.write(
            [
                stored(1, trade_id="E-1", maturity_date="2027-01-10"),
                stored(2, trade_id="E-2", maturity_date="2028-01-01"),
            ]
        )
        assert store.expire(date(2027, 3, 2)) == 1
        assert store.expire(date(2027, 3, 2)) == 0
        assert [(t.trade_id, t.expired) for t in store.iter_trades()] == [("E-1", True), ("E-2", False)]
        assert store.summary().expired == 1

    @pytest.mark.parametrize("size", [1, 2, 7, 64])
    @pytest.mark.parametrize("where", ["first", "middle", "last"])
    def test_a_refused_record_is_isolated_and_every_other_record_stored(
        self, store: Store, poison: Poison, size: int, where: str
    ) -> None:
        culprit = {"first": 0, "middle": size // 2, "last": size - 1}[where]
        poison(store, f"P-{culprit:04d}")
        result = write_isolating(store, [numbered(i, offset=i) for i in range(size)])
        assert list(result.refused) == [(f"P-{culprit:04d}", 1, "B-1")]
        assert result.refused[(f"P-{culprit:04d}", 1, "B-1")]  # the store's reason
        assert result.written == size - 1
        assert sorted(t.trade_id for t in store.iter_trades("P-")) == [
            f"P-{i:04d}" for i in range(size) if i != culprit
        ]
