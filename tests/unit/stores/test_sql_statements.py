"""The upserts of PostgreSQL and SQLite are built from the one-row template SQLAlchemy compiles.

SQLite: its VALUES row repeated, the very text SQLAlchemy's compile of n rows gives, with the same typed
parameters. PostgreSQL: one text for every batch size, the template with its VALUES row replaced by the
unnest of one array per column (same casts, same guard, same conflict clause, same RETURNING).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.stores.sql import statements
from shared.stores.sql.mapper import TradeRow
from shared.stores.sql.schema import COLUMNS, trades_table


@pytest.mark.parametrize("n", [1, 2, 3, 11, 64])
def test_sqlite_upsert_is_the_text_sqlalchemy_compiles_with_the_same_parameters(n: int) -> None:
    built = statements.upsert_statement("sqlite", n)
    assert built.text == statements.compiled_upsert_text("sqlite", n)  # type: ignore[attr-defined]
    table = trades_table("sqlite")
    binds = built._bindparams  # type: ignore[attr-defined]
    assert list(binds) == [f"{c}_{i}" for i in range(n) for c in COLUMNS]
    for i in range(n):
        for c in COLUMNS:
            assert type(binds[f"{c}_{i}"].type) is type(table.c[c].type)


def test_postgresql_upsert_is_one_text_unnesting_an_array_per_column() -> None:
    built = statements.upsert_statement("postgresql", 3)
    assert statements.upsert_statement("postgresql", 700) is built  # one text for every batch size
    one_row = statements.compiled_upsert_text("postgresql", 1)
    values_at = one_row.index("(VALUES (")
    row_end = one_row.index(")", values_at + len("(VALUES (")) + 1
    text, head, tail, opening = built.text, one_row[:values_at], one_row[row_end:], "(SELECT * FROM unnest("  # type: ignore[attr-defined]
    assert text.startswith(head)
    assert text[len(head) :].startswith(opening)
    assert text.endswith(tail)  # the guard, ON CONFLICT and RETURNING of the template
    arrays = text[len(head) + len(opening) : -len(tail) - 1]
    expected = [
        ":trade_id\\:\\:VARCHAR[]", ":book_id\\:\\:VARCHAR[]", ":counterparty_id\\:\\:VARCHAR[]",
        ":version\\:\\:INTEGER[]", ":maturity_date\\:\\:DATE[]", ":created_date\\:\\:DATE[]",
        ":expired\\:\\:BOOLEAN[]", ":kafka_partition\\:\\:INTEGER[]", ":kafka_offset\\:\\:BIGINT[]",
        ":persisted_at\\:\\:TIMESTAMP WITH TIME ZONE[]", ":principal\\:\\:VARCHAR[]",
    ]  # fmt: skip
    assert arrays.split(", ") == expected
    assert len(expected) == len(COLUMNS)


def test_postgresql_parameters_are_a_column_of_values_each_in_row_order() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    rows = [
        TradeRow(
            trade_id=f"T{i}", book_id="B", counterparty_id="C", version=i, maturity_date=date(2030, 1, i),
            created_date=date(2025, 1, 1), expired=bool(i % 2), kafka_partition=i, kafka_offset=10 + i,
            persisted_at=at, principal=None if i else "key-1",
        )
        for i in (1, 2, 3)
    ]  # fmt: skip
    params = statements.upsert_params("postgresql", rows)
    assert list(params) == list(COLUMNS)
    assert params["trade_id"] == ["T1", "T2", "T3"]
    assert params["version"] == [1, 2, 3]
    assert params["expired"] == [True, False, True]
    assert params["kafka_offset"] == [11, 12, 13]
    assert params["principal"] == [None, None, None]


def test_statement_sizes_are_plain_chunks_where_the_text_does_not_depend_on_them() -> None:
    assert statements.statement_sizes("postgresql", 1000, 2727) == [1000]
    assert statements.statement_sizes("postgresql", 5, 2) == [2, 2, 1]
    assert statements.statement_sizes("mssql", 2500, 1000) == [1000, 1000, 500]
    assert statements.statement_sizes("mssql", 0, 1000) == []
    assert statements.statement_sizes("sqlite", 1000, 2727) == [512, 256, 128, 64, 32, 8]
