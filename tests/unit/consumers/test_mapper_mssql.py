"""Row mapping from StoredTrade and the upsert statements per dialect, the T-SQL checked as compiled text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from kafkaconsumermssql.mapper import chunks, to_row, to_rows
from kafkaconsumermssql.schema import COLUMNS, dialect_named
from kafkaconsumermssql.statements import (
    chunk_sizes,
    max_rows_per_statement,
    max_versions_statement,
    upsert_params,
    upsert_template,
)
from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def stored(offset: int = 0, **changes: object) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), 2, offset, NOW)


def test_row_carries_every_trade_field_and_the_ingestion_metadata() -> None:
    row = to_row(stored(offset=41))
    assert row == {
        "trade_id": "T-1001",
        "book_id": "B-1",
        "counterparty_id": "CP-1",
        "version": 1,
        "maturity_date": date(2026, 1, 15),
        "created_date": date(2025, 9, 28),
        "expired": False,
        "kafka_partition": 2,
        "kafka_offset": 41,
        "persisted_at": NOW,
    }
    assert tuple(row) == COLUMNS


def test_same_key_twice_in_a_batch_keeps_only_the_last_one() -> None:
    rows = to_rows([stored(1, counterparty_id="A"), stored(2, book_id="B-2"), stored(3, counterparty_id="C")])
    assert [(r["book_id"], r["counterparty_id"], r["kafka_offset"]) for r in rows] == [
        ("B-2", "CP-1", 2),
        ("B-1", "C", 3),
    ]


def test_versions_of_one_trade_in_a_batch_are_all_kept() -> None:
    assert [r["version"] for r in to_rows([stored(1), stored(2, version=2)])] == [1, 2]


def test_chunks_split_at_the_size() -> None:
    rows = to_rows([stored(i, trade_id=f"T{i}") for i in range(5)])
    assert [len(c) for c in chunks(rows, 2)] == [2, 2, 1]


def mssql_sql(n: int) -> tuple[str, dict[str, object]]:
    dialect = dialect_named("mssql")
    rows = to_rows([stored(i, trade_id=f"T{i}") for i in range(n)])
    compiled = upsert_template("mssql", n).compile(dialect=dialect)
    assert set(compiled.params) == set(upsert_params(rows))
    return str(compiled), upsert_params(rows)


def test_mssql_upsert_is_one_merge_with_holdlock_on_dbo_trades() -> None:
    sql, params = mssql_sql(3)
    assert sql.startswith("MERGE INTO dbo.trades WITH (HOLDLOCK) AS t")
    assert "USING (" in sql
    assert "ON t.trade_id = s.trade_id AND t.version = s.version AND t.book_id = s.book_id" in sql
    assert "WHEN MATCHED THEN UPDATE SET" in sql
    assert "WHEN NOT MATCHED THEN INSERT" in sql
    assert sql.rstrip().endswith(";")
    assert sql.count("MERGE") == 1
    assert len(params) == 3 * len(COLUMNS)


def test_mssql_merge_never_writes_below_the_stored_max_version() -> None:
    sql, _ = mssql_sql(1)
    assert re.search(
        r"WHERE NOT EXISTS \(SELECT 1 FROM dbo\.trades AS h WITH \(UPDLOCK, HOLDLOCK\)\s+"
        r"WHERE h\.trade_id = v\.trade_id AND h\.version > v\.version\)",
        sql,
    )


def test_mssql_merge_updates_everything_but_the_key() -> None:
    sql, _ = mssql_sql(1)
    updates = sql.split("WHEN MATCHED THEN UPDATE SET", 1)[1].split("WHEN NOT MATCHED", 1)[0]
    for key in ("trade_id", "version", "book_id"):
        assert f"t.{key} " not in updates
    assert "t.counterparty_id = s.counterparty_id" in updates


def test_mssql_largest_chunk_stays_under_2100_parameters() -> None:
    limit = max_rows_per_statement("mssql")
    _, params = mssql_sql(limit)
    assert len(params) <= 2100
    with pytest.raises(ValueError, match="parameter limit"):
        upsert_template("mssql", limit + 1)


@pytest.mark.parametrize("dialect_name", ["postgresql", "sqlite"])
def test_postgres_and_sqlite_upsert_on_conflict_of_the_key(dialect_name: str) -> None:
    dialect = dialect_named(dialect_name)
    sql = str(upsert_template(dialect_name, 2).compile(dialect=dialect))
    assert sql.startswith("WITH s(")
    assert "INSERT INTO trades (" in sql
    assert "ON CONFLICT (trade_id, version, book_id) DO UPDATE SET" in sql
    flat = " ".join(sql.split())
    assert (
        "WHERE NOT (EXISTS (SELECT * FROM trades AS h "
        "WHERE h.trade_id = s.trade_id AND h.version > s.version))" in flat
    )
    assert "trade_id = excluded.trade_id" not in sql


def test_batches_split_into_power_of_two_chunks_under_the_limit() -> None:
    assert chunk_sizes(500, 200) == [128, 128, 128, 64, 32, 16, 4]
    assert chunk_sizes(1, 200) == [1]
    assert chunk_sizes(0, 200) == []
    assert all(
        s <= max_rows_per_statement("mssql") for s in chunk_sizes(5000, max_rows_per_statement("mssql"))
    )


def test_values_are_bound_per_row_and_column() -> None:
    params = upsert_params(to_rows([stored(5), stored(6, trade_id="T-2")]))
    assert len(params) == 2 * len(COLUMNS)
    assert (params["trade_id_1"], params["kafka_offset_0"], params["expired_0"]) == ("T-2", 5, False)


def test_empty_batch_and_unknown_dialect_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        upsert_template("sqlite", 0)
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        dialect_named("oracle")


def test_max_versions_groups_by_trade_id_on_dbo() -> None:
    dialect = dialect_named("mssql")
    sql = str(max_versions_statement("mssql", ["A", "B"]).compile(dialect=dialect))
    assert "max(dbo.trades.version)" in sql
    assert "FROM dbo.trades" in sql
    assert "GROUP BY dbo.trades.trade_id" in sql
