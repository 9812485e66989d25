"""Row mapping and the statements per dialect; every T-SQL statement is parsed by sqlglot's tsql dialect."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from shared.ports import StoredTrade, TradeFilter
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.stores.sql import queries
from shared.stores.sql.engine import SqlLimits, session_statements
from shared.stores.sql.mapper import chunks, to_row, to_rows, to_stored
from shared.stores.sql.schema import COLUMNS, dialect_named, trades_table
from shared.stores.sql.statements import (
    chunk_sizes,
    max_rows_per_statement,
    mssql_merge_text,
    upsert_params,
    upsert_statement,
)

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
MSSQL = dialect_named("mssql")


def stored(offset: int = 0, principal: str | None = None, **changes: object) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), 2, offset, NOW, principal)


def tsql(sql: str) -> list[exp.Expression]:
    """Parse T-SQL strictly; a statement sqlglot would only keep as an opaque Command fails the test."""
    parsed = [e for e in sqlglot.parse(sql, read="tsql", error_level=sqlglot.ErrorLevel.RAISE) if e]
    assert parsed
    assert not [e for e in parsed if isinstance(e, exp.Command)], sql
    return parsed


def compiled_mssql(statement: sa.sql.expression.Executable) -> str:
    """The T-SQL text of a statement, IN lists expanded, `:name` placeholders as T-SQL `@name` variables."""
    compiled = statement.compile(dialect=MSSQL, compile_kwargs={"render_postcompile": True})  # type: ignore[attr-defined]
    return str(compiled)


def tsql_text(sql: str) -> list[exp.Expression]:
    return tsql(re.sub(r":(\w+)", r"@\1", sql))


def test_row_carries_every_trade_field_the_ingestion_metadata_and_the_principal() -> None:
    row = to_row(stored(offset=41, principal="key-7"))
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
        "principal": "key-7",
    }
    assert tuple(row) == COLUMNS


def test_same_key_twice_in_a_batch_keeps_only_the_last_one() -> None:
    rows = to_rows([stored(1, counterparty_id="A"), stored(2, book_id="B-2"), stored(3, counterparty_id="C")])
    assert [(r["book_id"], r["counterparty_id"], r["kafka_offset"]) for r in rows] == [
        ("B-1", "C", 3),
        ("B-2", "CP-1", 2),
    ]


def test_rows_are_sorted_by_key_in_code_point_order() -> None:
    ids = ["b", "\U0001f600", "B", "\ufffd", "a", "é"]
    rows = to_rows([stored(i, trade_id=tid) for i, tid in enumerate(ids)])
    assert [r["trade_id"] for r in rows] == ["B", "a", "b", "é", "\ufffd", "\U0001f600"]


def test_versions_of_one_trade_in_a_batch_are_all_kept() -> None:
    assert [r["version"] for r in to_rows([stored(1, version=2), stored(2)])] == [1, 2]


def test_chunks_split_at_the_size() -> None:
    rows = to_rows([stored(i, trade_id=f"T{i}") for i in range(5)])
    assert [len(c) for c in chunks(rows, 2)] == [2, 2, 1]


def test_mssql_upsert_is_one_constant_statement_with_the_rows_in_one_json_parameter() -> None:
    rows = to_rows([stored(i, trade_id=f"T{i}", principal="p") for i in range(3)])
    assert upsert_statement("mssql", 3) is upsert_statement("mssql", 700)  # one text for every batch size
    sql = compiled_mssql(upsert_statement("mssql", 3))
    assert sql.startswith("EXEC sp_executesql N'SET NOCOUNT ON;")
    assert sql.endswith(", N'@rows NVARCHAR(MAX)', @rows = :rows")
    params = upsert_params("mssql", rows)
    assert list(params) == ["rows"]
    decoded = json.loads(str(params["rows"]))
    assert decoded[0] == {**decoded[0], "trade_id": "T0", "maturity_date": "2026-01-15", "expired": False}
    assert decoded[0]["persisted_at"] == "2025-10-01T12:00:00+00:00"
    tsql(sql.replace(":rows", "N'[]'"))


def test_mssql_merge_parses_as_tsql_and_holds_the_race_guard() -> None:
    body = mssql_merge_text()
    kinds = [type(e).__name__ for e in tsql(body)]
    assert kinds == ["Set", "Declare", "Merge", "Select"]
    flat = " ".join(body.split())
    assert "MERGE INTO dbo.trades WITH (HOLDLOCK) AS t" in flat
    assert "FROM OPENJSON(@rows) WITH (trade_id NVARCHAR(128) '$.trade_id'" in flat
    assert "SELECT v.trade_id COLLATE Latin1_General_100_BIN2 AS trade_id," in flat
    assert re.search(
        r"WHERE NOT EXISTS \(SELECT 1 FROM dbo\.trades AS h WITH \(UPDLOCK, HOLDLOCK\) "
        r"WHERE h\.trade_id = v\.trade_id COLLATE Latin1_General_100_BIN2 AND h\.version > v\.version\)",
        flat,
    )
    assert "OUTPUT inserted.trade_id, inserted.version, inserted.book_id INTO @written" in flat
    updates = flat.split("WHEN MATCHED THEN UPDATE SET", 1)[1].split("WHEN NOT MATCHED", 1)[0]
    assert "t.trade_id" not in updates
    assert "t.principal = s.principal" in updates
    # an override rewrites every non-key field; expired above all (an audit survivor of issue 19: a MERGE
    # that no longer updated expired kept a matured trade live)
    for column in ("counterparty_id", "maturity_date", "created_date", "expired"):
        assert f"t.{column} = s.{column}" in updates, column


@pytest.mark.parametrize("dialect_name", ["postgresql", "sqlite"])
def test_postgres_and_sqlite_upsert_on_conflict_returns_the_written_keys(dialect_name: str) -> None:
    sql = str(upsert_statement(dialect_name, 2).compile(dialect=dialect_named(dialect_name)))
    assert sql.startswith("WITH s(")
    assert "ON CONFLICT (trade_id, version, book_id) DO UPDATE SET" in sql
    flat = " ".join(sql.split())
    for column in ("counterparty_id", "maturity_date", "created_date", "expired", "principal"):
        assert f"{column} = excluded.{column}" in flat, column
    assert (
        "WHERE NOT (EXISTS (SELECT * FROM trades AS h "
        "WHERE h.trade_id = s.trade_id AND h.version > s.version))" in flat
    )
    assert re.search(r"RETURNING (trades\.)?trade_id, (trades\.)?version, (trades\.)?book_id$", flat)
    params = upsert_params(dialect_name, to_rows([stored(1), stored(2, trade_id="X")]))
    # SQLite: a parameter per column of each row; PostgreSQL: an array per column, a value per row
    assert len(params) == (2 * len(COLUMNS) if dialect_name == "sqlite" else len(COLUMNS))
    if dialect_name == "postgresql":
        assert all(len(values) == 2 for values in params.values())  # type: ignore[arg-type]


def test_batches_split_into_power_of_two_chunks_under_the_limit() -> None:
    assert chunk_sizes(500, 200) == [128, 128, 128, 64, 32, 16, 4]
    assert chunk_sizes(1, 200) == [1]
    assert chunk_sizes(0, 200) == []
    with pytest.raises(ValueError, match="statement limit"):
        upsert_statement("mssql", max_rows_per_statement("mssql") + 1)


def test_empty_batch_and_unknown_dialect_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        upsert_statement("sqlite", 0)
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        dialect_named("oracle")


def test_every_mssql_read_and_maintenance_statement_parses_as_tsql() -> None:
    t = trades_table("mssql")
    statements: list[sa.sql.expression.Executable] = [
        queries.max_versions_statement("mssql", ["A", "B"]),
        queries.expire_batch_statement("mssql"),
        sa.select(t.c.trade_id)
        .where(queries.prefix_filter("mssql", "T-%_[x\\"))
        .order_by(*queries.key_order("mssql")),
        sa.select(sa.func.count())
        .select_from(t)
        .where(queries.filter_clause("mssql", TradeFilter("B", "C", True))),
    ]
    for statement in statements:
        tsql_text(compiled_mssql(statement))
    for statement_text in session_statements("mssql", SqlLimits(lock_timeout_s=2.5)):
        tsql(statement_text)
    assert session_statements("mssql", SqlLimits(lock_timeout_s=2.5)) == ["SET LOCK_TIMEOUT 2500"]


def test_mssql_expiry_updates_a_bounded_batch_through_the_filtered_condition() -> None:
    sql = " ".join(compiled_mssql(queries.expire_batch_statement("mssql")).split())
    assert sql == (
        "WITH batch AS (SELECT TOP (:n) expired FROM [dbo].[trades] "
        "WHERE maturity_date < :today AND expired = 0) "
        "UPDATE batch SET expired = 1"
    )


def test_prefix_is_a_like_with_every_wildcard_escaped() -> None:
    assert queries.like_prefix("T-1") == "T-1%"
    assert queries.like_prefix("a%b_c[d\\e") == "a\\%b\\_c\\[d\\\\e%"
    sql = compiled_mssql(sa.select(sa.literal(1)).where(queries.prefix_filter("mssql", "x")))
    assert "dbo.trades.trade_id LIKE :trade_id_1 ESCAPE '\\'" in sql
    assert "10ffff" not in sql.lower()
    assert "\U0010ffff" not in sql


def test_mssql_orders_ids_by_their_utf8_bytes_so_the_order_is_code_point_order() -> None:
    sql = compiled_mssql(sa.select(sa.literal(1)).order_by(*queries.key_order("mssql")))
    assert (
        "ORDER BY CAST(CAST(dbo.trades.trade_id COLLATE Latin1_General_100_BIN2_UTF8 AS VARCHAR(256)) "
        "AS VARBINARY(256))" in sql
    )


def test_max_versions_groups_by_trade_id_on_dbo() -> None:
    sql = compiled_mssql(queries.max_versions_statement("mssql", ["A", "B"]))
    assert "max(dbo.trades.version)" in sql
    assert "GROUP BY dbo.trades.trade_id" in sql


def test_the_merge_reads_each_json_field_as_its_sql_server_column_type_without_the_collation() -> None:
    """Built now from the mssql table (the text is cached: cleared first so this test checks the build)."""
    mssql_merge_text.cache_clear()
    flat = " ".join(mssql_merge_text().split())
    shape = flat.split("FROM OPENJSON(@rows) WITH (", 1)[1].split(") AS v", 1)[0]
    assert shape == (
        "trade_id NVARCHAR(128) '$.trade_id', book_id NVARCHAR(128) '$.book_id', "
        "counterparty_id NVARCHAR(128) '$.counterparty_id', version INTEGER '$.version', "
        "maturity_date DATE '$.maturity_date', created_date DATE '$.created_date', expired BIT '$.expired', "
        "kafka_partition INTEGER '$.kafka_partition', kafka_offset BIGINT '$.kafka_offset', "
        "persisted_at DATETIMEOFFSET '$.persisted_at', principal NVARCHAR(256) '$.principal'"
    )
    assert "DECLARE @written TABLE (trade_id NVARCHAR(128), version INTEGER, book_id NVARCHAR(128));" in flat
    tsql(mssql_merge_text())


def test_one_statement_carries_at_most_1000_rows_on_sql_server_and_more_elsewhere() -> None:
    assert max_rows_per_statement("mssql") == 1000
    assert max_rows_per_statement("sqlite") == max_rows_per_statement("postgresql") == 30_000 // len(COLUMNS)
    upsert_statement("mssql", 1000)  # the limit itself is allowed
    with pytest.raises(ValueError, match=r"^1001 rows exceed the statement limit of mssql; chunk them$"):
        upsert_statement("mssql", 1001)
    upsert_statement("sqlite", 1001)
    with pytest.raises(ValueError, match=r"^an upsert needs at least one row$"):
        upsert_statement("postgresql", 0)
    with pytest.raises(
        ValueError, match=r"^no upsert for dialect 'oracle'; use SQL Server, PostgreSQL or SQLite$"
    ):
        upsert_statement("oracle", 1)


def test_a_limit_of_one_row_gives_one_row_per_statement() -> None:
    assert chunk_sizes(3, 1) == [1, 1, 1]
    assert chunk_sizes(5, 4) == [4, 1]


def test_a_row_read_back_keeps_expired_origin_and_principal_and_refuses_a_text_timestamp() -> None:
    row = {**to_row(stored(5, principal="key-1", expired=True)), "expired": 1}
    back = to_stored(row)  # type: ignore[arg-type]
    assert (back.trade.expired, back.partition, back.offset, back.persisted_at, back.principal) == (
        True,
        2,
        5,
        NOW,
        "key-1",
    )
    with pytest.raises(TypeError, match=r"^persisted_at read back as str, not a datetime$"):
        to_stored({**row, "persisted_at": "2025-10-01T12:00:00+00:00"})  # type: ignore[arg-type]
