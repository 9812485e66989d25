"""The batched, idempotent, conditional upsert per dialect.

SQL Server: `MERGE ... WITH (HOLDLOCK)` (SQLAlchemy has no MERGE construct, so it is written here as
text with bound parameters). PostgreSQL and SQLite: `INSERT ... SELECT ... ON CONFLICT DO UPDATE`.

Every form is *conditional*: a row is written only if no version higher than its own is stored for
its trade_id. The consumer runtime already rejects lower versions (shared.rules.plan_batch), but it
read max_versions before writing; the condition closes that read-then-write race (two consumers, a
re-balance) inside the database, so a stale version can never land even then. Rows of one batch
are checked against the table as it was before the statement, so v1 and v2 of a trade sent
together are both stored, as the version rule wants.

Statements are templates with one named parameter per value (`trade_id_0` ...), cached per row
count; batches are split into power-of-two chunks so a few templates serve every batch size.
Compiling a 500-row statement costs ~0.5 s in SQLAlchemy, so an uncached one per batch would
halve the sink's throughput.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.expression import Executable

from kafkaconsumermssql.mapper import TradeRow
from kafkaconsumermssql.schema import COLUMNS, KEY_COLUMNS, UPDATE_COLUMNS, dialect_named, trades_table

# SQL Server accepts at most 2100 parameters per statement; stay below with room to spare.
MSSQL_MAX_PARAMS = 2000
OTHER_MAX_PARAMS = 30_000  # SQLite >= 3.32 allows 32766, PostgreSQL 65535


def max_rows_per_statement(dialect_name: str) -> int:
    """The largest batch one upsert statement may carry on this dialect."""
    limit = MSSQL_MAX_PARAMS if dialect_name == "mssql" else OTHER_MAX_PARAMS
    return limit // len(COLUMNS)


def chunk_sizes(n: int, largest: int) -> list[int]:
    """Sizes that sum to n, each a power of two no larger than `largest` (so templates are reused)."""
    cap = 1 << (max(1, largest).bit_length() - 1)
    sizes: list[int] = []
    while n > 0:
        size = cap if n >= cap else 1 << (n.bit_length() - 1)
        sizes.append(size)
        n -= size
    return sizes


def upsert_params(rows: Sequence[TradeRow]) -> dict[str, object]:
    """The bound values of an upsert template for these rows: `<column>_<row index>`."""
    return {f"{c}_{i}": v for i, row in enumerate(rows) for c, v in zip(COLUMNS, _values(row), strict=True)}


@lru_cache(maxsize=64)
def upsert_template(dialect_name: str, n: int) -> Executable:
    """The upsert of n rows (unique keys) for a dialect, parameters unbound; executed with upsert_params."""
    if n < 1:
        raise ValueError("an upsert needs at least one row")
    if n > max_rows_per_statement(dialect_name):
        raise ValueError(f"{n} rows exceed the parameter limit of {dialect_name}; chunk them")
    if dialect_name == "mssql":
        return _mssql_merge(n)
    if dialect_name in ("postgresql", "sqlite"):
        return _insert_on_conflict(dialect_name, n)
    raise ValueError(f"no upsert for dialect {dialect_name!r}; use SQL Server, PostgreSQL or SQLite")


def _values(row: Mapping[str, object]) -> list[object]:
    """The row's values in COLUMNS order."""
    return [row[c] for c in COLUMNS]


def _placeholders(table: sa.Table, n: int) -> list[tuple[sa.BindParameter[object], ...]]:
    return [tuple(sa.bindparam(f"{c}_{i}", type_=table.c[c].type) for c in COLUMNS) for i in range(n)]


def _insert_on_conflict(dialect_name: str, n: int) -> Executable:
    table = trades_table(dialect_name)
    placeholders = _placeholders(table, n)
    source = (
        sa.values(*(sa.column(c, table.c[c].type) for c in COLUMNS), name="s")
        .data(placeholders)
        .cte("s")  # WITH s(cols) AS (VALUES ...): the form both PostgreSQL and SQLite accept
    )
    held = table.alias("h")
    newer_stored = sa.exists().where(held.c.trade_id == source.c.trade_id, held.c.version > source.c.version)
    select = sa.select(*(source.c[c] for c in COLUMNS)).where(~newer_stored)
    insert = (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)
    stmt = insert.from_select(list(COLUMNS), select)
    upsert = stmt.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS), set_={c: stmt.excluded[c] for c in UPDATE_COLUMNS}
    )
    # SQLAlchemy does not cache statements built on values(): compile once, keep the text.
    named = make_url(f"{dialect_name}://").get_dialect()(paramstyle="named")  # type: ignore[call-arg]  # DefaultDialect takes it
    sql = str(upsert.compile(dialect=named)).replace("::", "\\:\\:")  # PostgreSQL casts are not binds
    return sa.text(sql).bindparams(*(p for row in placeholders for p in row))


def _mssql_merge(n: int) -> Executable:
    table = trades_table("mssql")
    quote = dialect_named("mssql").identifier_preparer.quote
    target = f"{quote(table.schema or 'dbo')}.{quote(table.name)}"
    cols = ", ".join(quote(c) for c in COLUMNS)
    placeholders = _placeholders(table, n)
    tuples = ", ".join("(" + ", ".join(f":{p.key}" for p in row) + ")" for row in placeholders)
    on = " AND ".join(f"t.{quote(c)} = s.{quote(c)}" for c in KEY_COLUMNS)
    updates = ", ".join(f"t.{quote(c)} = s.{quote(c)}" for c in UPDATE_COLUMNS)
    inserted = ", ".join(f"s.{quote(c)}" for c in COLUMNS)
    newer = f"h.{quote('trade_id')} = v.{quote('trade_id')} AND h.{quote('version')} > v.{quote('version')}"
    # HOLDLOCK on the target makes MERGE's match-then-insert atomic (no PK race between consumers);
    # UPDLOCK, HOLDLOCK on the version probe keeps a higher version from landing mid-statement.
    # Only quoted identifiers from the Table and generated parameter names are interpolated; values are bound
    # (bandit B608 is a false positive here; it reports every part of the f-string, so the nosec is whole).
    sql = (
        f"MERGE INTO {target} WITH (HOLDLOCK) AS t\n"  # noqa: S608  # nosec B608
        f"USING (\n"
        f"  SELECT {', '.join(f'v.{quote(c)}' for c in COLUMNS)}\n"
        f"  FROM (VALUES {tuples}) AS v ({cols})\n"
        f"  WHERE NOT EXISTS (SELECT 1 FROM {target} AS h WITH (UPDLOCK, HOLDLOCK)\n"
        f"    WHERE {newer})\n"
        f") AS s\n"
        f"ON {on}\n"
        f"WHEN MATCHED THEN UPDATE SET {updates}\n"
        f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({inserted});"
    )
    return sa.text(sql).bindparams(*(p for row in placeholders for p in row))


def max_versions_statement(dialect_name: str, trade_ids: Sequence[str]) -> Executable:
    """SELECT trade_id, MAX(version) ... GROUP BY trade_id for a chunk of trade ids."""
    table = trades_table(dialect_name)
    return (
        sa.select(table.c.trade_id, sa.func.max(table.c.version))
        .where(table.c.trade_id.in_(list(trade_ids)))
        .group_by(table.c.trade_id)
    )
