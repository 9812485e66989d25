"""The SQL sink's behaviour, written once and run on every backend (SQLite file, PostgreSQL, or SQL_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from fixtures.sql import create_database
from shared.errors import StoreUnavailable
from shared.ports import StoredTrade, WriteResult
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores.sql import SqlStore
from tradestore.local.postgres import EmbeddedPostgres

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def stored(offset: int = 0, **changes: object) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), 0, offset, NOW)


def rows(sink: SqlStore) -> list[tuple[object, ...]]:
    t = sink.table
    query = sa.select(t.c.trade_id, t.c.version, t.c.book_id, t.c.counterparty_id, t.c.kafka_offset)
    with sink.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query.order_by(t.c.trade_id, t.c.version, t.c.book_id))]


@pytest.fixture
def sink(sql_url: str) -> Iterator[SqlStore]:
    sink = SqlStore.from_settings(Settings(sql_url=sql_url))
    sink.setup()
    try:
        yield sink
    finally:
        sink.close()


def test_setup_twice_is_harmless(sink: SqlStore) -> None:
    sink.setup()
    sink.ping()
    assert sink.count() == 0


def test_upsert_twice_stores_each_trade_once(sink: SqlStore) -> None:
    batch = [stored(i, trade_id=f"T-{i}") for i in range(10)]
    assert sink.write(batch) == WriteResult(written=10)
    sink.write(batch)
    assert sink.count() == 10


def test_same_key_overrides_the_stored_row(sink: SqlStore) -> None:
    sink.write([stored(1)])
    sink.write([stored(2, counterparty_id="CP-2")])
    assert rows(sink) == [("T-1001", 1, "B-1", "CP-2", 2)]


def test_same_key_twice_in_one_batch_stores_the_last(sink: SqlStore) -> None:
    sink.write([stored(1, counterparty_id="A"), stored(2, counterparty_id="B")])
    assert rows(sink) == [("T-1001", 1, "B-1", "B", 2)]


def test_max_versions_reports_the_highest_per_trade(sink: SqlStore) -> None:
    sink.write(
        [stored(0), stored(1, version=3), stored(2, version=2, book_id="B-2"), stored(3, trade_id="X")]
    )
    assert sink.max_versions(["T-1001", "X", "missing"]) == {"T-1001": 3, "X": 1}
    assert sink.max_versions([]) == {}


def test_rows_the_version_guard_filters_are_reported_stale_never_written(sink: SqlStore) -> None:
    sink.write([stored(1, version=3)])
    result = sink.write([stored(2, version=2), stored(3, version=2, book_id="B-9")])
    assert result == WriteResult(written=0, stale={("T-1001", 2, "B-1"): 3, ("T-1001", 2, "B-9"): 3})
    assert sink.write([stored(4, version=3, counterparty_id="CP-3")]) == WriteResult(written=1)
    assert rows(sink) == [("T-1001", 3, "B-1", "CP-3", 4)]


def test_versions_of_one_trade_in_one_batch_are_all_stored(sink: SqlStore) -> None:
    sink.write([stored(1), stored(2, version=2)])
    assert [r[1] for r in rows(sink)] == [1, 2]


def test_a_batch_larger_than_one_statement_is_chunked_in_one_transaction(sql_url: str) -> None:
    sink = SqlStore.from_settings(Settings(sql_url=sql_url))
    sink.chunk_rows = 7
    try:
        sink.setup()
        assert sink.write([stored(i, trade_id=f"T-{i}") for i in range(50)]).written == 50
        assert sink.count() == 50
    finally:
        sink.close()


def test_values_round_trip_with_their_types(sink: SqlStore) -> None:
    sink.write([stored(7, expired=True)])
    with sink.engine.connect() as conn:
        row = conn.execute(sa.select(sink.table)).mappings().one()
    assert row["maturity_date"].isoformat() == "2026-01-15"
    assert row["created_date"].isoformat() == "2025-09-28"
    assert row["expired"] is True
    assert (row["kafka_partition"], row["kafka_offset"]) == (0, 7)


@pytest.mark.skipif(bool(os.environ.get("SQL_URL")), reason="stops the embedded PostgreSQL server")
def test_stopped_postgres_raises_store_unavailable_then_works_after_restart(
    postgres_server: EmbeddedPostgres,
) -> None:
    url = create_database(postgres_server)
    sink = SqlStore.from_settings(Settings(sql_url=url))
    try:
        sink.setup()
        sink.write([stored(1)])
        postgres_server.stop()
        try:
            for call in (
                sink.ping,
                lambda: sink.write([stored(2, trade_id="T-2")]),
                lambda: sink.max_versions(["x"]),
            ):
                with pytest.raises(StoreUnavailable) as raised:
                    call()
                assert "postgres@" in str(raised.value) or "127.0.0.1" in str(raised.value)
        finally:
            postgres_server.start()
        sink.write([stored(2, trade_id="T-2")])
        assert sink.count() == 2
    finally:
        sink.close()


def test_unavailable_message_never_shows_the_password(tmp_path: object) -> None:
    from tradestore.local.process import free_port

    url = f"postgresql+psycopg://user:s3cr3t-pw@127.0.0.1:{free_port()}/db"
    sink = SqlStore.from_settings(Settings(sql_url=url))
    with pytest.raises(StoreUnavailable) as raised:
        sink.ping()
    assert "s3cr3t-pw" not in str(raised.value)
    assert "***" in str(raised.value)
