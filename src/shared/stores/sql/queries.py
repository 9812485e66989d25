"""Read and maintenance statements: prefixes, code-point ordering, version lookups, batched expiry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import Executable

from shared.ports import TradeFilter
from shared.schema import ID_MAX_LENGTH
from shared.stores.sql.schema import KEY_COLUMNS, dialect_named, trades_table

LIKE_ESCAPE = "\\"
_LIKE_SPECIAL = frozenset("\\%_[")  # '[' opens a character class in SQL Server's LIKE


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching exactly the strings that start with `prefix` (escape character '\\')."""
    return "".join(LIKE_ESCAPE + ch if ch in _LIKE_SPECIAL else ch for ch in prefix) + "%"


def prefix_filter(dialect_name: str, prefix: str) -> sa.ColumnElement[bool]:
    """trade_id starts with prefix: LIKE with an escaped prefix, exact under the keys' binary collation.

    (A range up to prefix + U+10FFFF selects nothing on SQL Server, where that character has no weight.)
    SQLite's LIKE is made case-sensitive by the engine (PRAGMA case_sensitive_like).
    """
    if not prefix:
        return sa.true()
    return trades_table(dialect_name).c.trade_id.like(like_prefix(prefix), escape=LIKE_ESCAPE)


def code_point_order(dialect_name: str, column: sa.ColumnElement[str]) -> sa.ColumnElement[Any]:
    """An ORDER BY term sorting `column` in code-point order, as Python and MongoDB compare strings.

    SQL Server's BIN2 compares NVARCHAR by UTF-16 code unit, which puts characters above U+FFFF before
    U+E000..U+FFFF; UTF-8 bytes sort in code-point order, so it orders by the UTF-8 encoding.
    """
    if dialect_name == "mssql":
        utf8 = sa.cast(column.collate("Latin1_General_100_BIN2_UTF8"), sa.VARCHAR(4 * ID_MAX_LENGTH))
        return sa.cast(utf8, sa.VARBINARY(4 * ID_MAX_LENGTH))
    if dialect_name == "postgresql":
        return column.collate("C")
    return column  # SQLite: BINARY collation compares UTF-8 bytes


def key_order(dialect_name: str) -> list[sa.ColumnElement[Any]]:
    t = trades_table(dialect_name)
    return [
        code_point_order(dialect_name, t.c.trade_id),
        t.c.version,
        code_point_order(dialect_name, t.c.book_id),
    ]


def max_versions_statement(dialect_name: str, trade_ids: Sequence[str]) -> Executable:
    """SELECT trade_id, MAX(version) ... GROUP BY trade_id for a chunk of trade ids."""
    table = trades_table(dialect_name)
    return (
        sa.select(table.c.trade_id, sa.func.max(table.c.version))
        .where(table.c.trade_id.in_(list(trade_ids)))
        .group_by(table.c.trade_id)
    )


@lru_cache(maxsize=64)
def max_versions_driver_sql(dialect_name: str, n: int) -> str | None:
    """The same lookup as driver SQL with its ids as driver parameters, for n ids (None on SQL Server).

    SQLAlchemy renders an expanding IN list per call and psycopg re-parses a long query text every time
    (its cache keeps short texts only): for 1,000 ids that was 6% of a draining sink's time on PostgreSQL.
    PostgreSQL takes the ids as one text[] parameter (`= ANY(%s)`, a constant text, an index scan on the
    primary key); SQLite as n `?` parameters (its driver binds them directly).
    """
    if dialect_name not in ("postgresql", "sqlite"):
        return None
    table = trades_table(dialect_name)
    preparer = dialect_named(dialect_name).identifier_preparer
    trade_id, version = preparer.quote("trade_id"), preparer.quote("version")
    ids = "= ANY(%s)" if dialect_name == "postgresql" else f"IN ({', '.join('?' * n)})"
    return (
        f"SELECT {trade_id}, MAX({version}) FROM {preparer.format_table(table)}"  # noqa: S608  # nosec B608
        f" WHERE {trade_id} {ids} GROUP BY {trade_id}"  # identifiers of the Table; values are parameters
    )


def filter_clause(dialect_name: str, filters: TradeFilter) -> sa.ColumnElement[bool]:
    """The read API's listing filters."""
    t = trades_table(dialect_name)
    terms: list[sa.ColumnElement[bool]] = []
    if filters.book_id is not None:
        terms.append(t.c.book_id == filters.book_id)
    if filters.counterparty_id is not None:
        terms.append(t.c.counterparty_id == filters.counterparty_id)
    if filters.expired is not None:
        terms.append(t.c.expired == filters.expired)
    return sa.and_(sa.true(), *terms)


def expire_batch_statement(dialect_name: str) -> Executable:
    """Flag at most :n live trades with maturity_date < :today as expired (one bounded UPDATE).

    Bounded so SQL Server never escalates to a table lock (at ~5,000 row locks) and blocks the sinks;
    the filtered index ix_trades_expiry finds the rows without a scan.
    """
    if dialect_name == "mssql":
        table = trades_table("mssql")
        target = f"[{table.schema}].[{table.name}]"
        return sa.text(
            f"WITH batch AS (SELECT TOP (:n) expired FROM {target}\n"  # noqa: S608  # nosec B608
            f"  WHERE maturity_date < :today AND expired = 0)\n"
            f"UPDATE batch SET expired = 1"
        ).bindparams(sa.bindparam("n", type_=sa.Integer), sa.bindparam("today", type_=sa.DATE))
    t = trades_table(dialect_name)
    keys = [t.c[c] for c in KEY_COLUMNS]
    live = sa.select(*keys).where(t.c.maturity_date < sa.bindparam("today", type_=sa.DATE), ~t.c.expired)
    chosen = live.limit(sa.bindparam("n", type_=sa.Integer))
    return sa.update(t).where(sa.tuple_(*keys).in_(chosen)).values(expired=True)


def expire_params(today: date, n: int) -> dict[str, object]:
    return {"today": today, "n": n}
