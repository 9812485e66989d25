"""The batched, idempotent, conditional upsert per dialect, reporting which rows it wrote.

Every form is *conditional*: a row is written only if no version higher than its own is stored for its
trade_id (the race guard that closes plan_batch's read-then-write race inside the database). The rows
it writes come back (RETURNING / OUTPUT), so the rows the guard filtered are reported as stale, never
counted as persisted (issue 13, item 5). Rows of one batch are checked against the table as it was
before the statement, so v1 and v2 of a trade sent together are both stored.

- SQLite: `WITH s AS (VALUES ...) INSERT ... SELECT ... ON CONFLICT DO UPDATE ... RETURNING`, a template
  per power-of-two row count, cached: SQLAlchemy compiles the one-row form once, the n-row text repeats
  its VALUES row (compiling n rows took up to 1.4 s per template).
- PostgreSQL: the same statement with `s` the unnest of one array parameter per column: one short text
  for every batch size, which psycopg converts once and the server prepares.
- SQL Server: one MERGE text for every batch, its rows in one NVARCHAR(MAX) JSON parameter read by
  OPENJSON, run through sp_executesql. pymssql inlines parameters as literals, so a MERGE with its
  values in the text would be a new statement (and a new compiled plan) per batch; here the inner
  statement is constant and SQL Server compiles it once (item 11).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.expression import Executable

from shared.stores.sql.mapper import TradeRow, json_row
from shared.stores.sql.schema import (
    COLUMNS,
    KEY_COLUMNS,
    MSSQL_KEY_COLLATION,
    UPDATE_COLUMNS,
    dialect_named,
    trades_table,
)

OTHER_MAX_PARAMS = 30_000  # SQLite >= 3.32 allows 32766, PostgreSQL 65535
MSSQL_ROWS_PER_STATEMENT = 1000  # one JSON parameter of ~300 KB; bounds the locks one statement holds


def max_rows_per_statement(dialect_name: str) -> int:
    """The largest batch one upsert statement may carry on this dialect."""
    return MSSQL_ROWS_PER_STATEMENT if dialect_name == "mssql" else OTHER_MAX_PARAMS // len(COLUMNS)


def chunk_sizes(n: int, largest: int) -> list[int]:
    """Sizes that sum to n, each a power of two no larger than `largest` (so templates are reused)."""
    cap = 1 << (max(1, largest).bit_length() - 1)
    sizes: list[int] = []
    while n > 0:
        size = cap if n >= cap else 1 << (n.bit_length() - 1)
        sizes.append(size)
        n -= size
    return sizes


def statement_sizes(dialect_name: str, n: int, largest: int) -> list[int]:
    """How many rows each upsert statement of an n-row batch carries. A dialect whose upsert text does not
    depend on the row count (SQL Server's JSON parameter, PostgreSQL's arrays) takes plain chunks of
    `largest`; SQLite repeats a VALUES row per row, so its sizes are powers of two (templates reused)."""
    if dialect_name in ("mssql", "postgresql"):
        return [min(largest, n - start) for start in range(0, n, max(1, largest))]
    return chunk_sizes(n, largest)


def upsert_params(dialect_name: str, rows: Sequence[TradeRow]) -> dict[str, object]:
    """The bound values of an upsert for these rows."""
    if dialect_name == "mssql":
        return {"rows": orjson.dumps([json_row(row) for row in rows]).decode()}
    if dialect_name == "postgresql":  # a column of values per parameter (arrays, unnested by the server)
        return {c: [row[c] for row in rows] for c in COLUMNS}  # type: ignore[literal-required]
    return {f"{c}_{i}": row[c] for i, row in enumerate(rows) for c in COLUMNS}  # type: ignore[literal-required]


def upsert_statement(dialect_name: str, n: int) -> Executable:
    """The upsert of n rows (unique keys) for a dialect, returning the keys it wrote."""
    if n < 1:
        raise ValueError("an upsert needs at least one row")
    if n > max_rows_per_statement(dialect_name):
        raise ValueError(f"{n} rows exceed the statement limit of {dialect_name}; chunk them")
    if dialect_name == "mssql":
        return mssql_upsert()
    if dialect_name == "postgresql":
        return _pg_unnest_upsert()
    if dialect_name == "sqlite":
        return _insert_on_conflict(dialect_name, n)
    raise ValueError(f"no upsert for dialect {dialect_name!r}; use SQL Server, PostgreSQL or SQLite")


@lru_cache(maxsize=64)
def _insert_on_conflict(dialect_name: str, n: int) -> Executable:
    """The n-row upsert: the one-row template's text with its VALUES row repeated n times (SQLAlchemy's own
    compile of n rows gives the same text, tested; it took 0.1-1.4 s per template, paid by each consumer
    process in its first batches), bound with n rows of typed parameters."""
    table = trades_table(dialect_name)
    head, row, tail = _template_parts(dialect_name)
    rows = ", ".join(_ROW_PARAM.sub(rf"\g<1>_{i}", row) for i in range(n))
    params = (sa.bindparam(f"{c}_{i}", type_=table.c[c].type) for i in range(n) for c in COLUMNS)
    return sa.text(head + rows + tail).bindparams(*params)


_ROW_PARAM = re.compile(r"(:[a-z_]+)_0\b")  # a parameter of the template's row (`:trade_id_0`)


@lru_cache(maxsize=1)
def _pg_unnest_upsert() -> Executable:
    """PostgreSQL's upsert of any number of rows: the template with its VALUES row replaced by the
    unnest of one array per column, so one short text serves every batch size. psycopg converts a
    statement's placeholders on every execute unless its text is short (its cache takes texts up to
    4 KB): the n-row VALUES text (11 parameters a row) cost the sink about half its CPU in that
    conversion (py-spy, wrk run with both consumers, session 5), and PostgreSQL parsed and planned each
    one anew; this text is converted once and the server prepares it after a few executions."""
    head, row, tail = _template_parts("postgresql")
    typed = re.sub(r":([a-z_]+)_0(\\:\\:[A-Z ]+)?", _array_param, row)
    return sa.text(head.replace("(VALUES ", "(SELECT * FROM unnest") + typed + tail)


def _array_param(found: re.Match[str]) -> str:
    """`:name_0::TYPE` of the one-row template as `:name::TYPE[]` (an untyped one takes its column's)."""
    name = found.group(1)
    cast = found.group(2) or "\\:\\:" + str(
        trades_table("postgresql").c[name].type.compile(dialect=dialect_named("postgresql"))
    )
    return f":{name}{cast}[]"


@lru_cache(maxsize=4)
def _template_parts(dialect_name: str) -> tuple[str, str, str]:
    """(text before the VALUES row, the row, text after it) of the compiled one-row upsert."""
    sql = compiled_upsert_text(dialect_name, 1)
    start = sql.index("(VALUES ") + len("(VALUES ")
    end = sql.index(")", start) + 1  # the row holds no parenthesis: parameters and casts only
    return sql[:start], sql[start:end], sql[end:]


def compiled_upsert_text(dialect_name: str, n: int) -> str:
    """SQLAlchemy's compile of the n-row conditional upsert (PostgreSQL, SQLite), as text() takes it."""
    table = trades_table(dialect_name)
    placeholders = [tuple(sa.bindparam(f"{c}_{i}", type_=table.c[c].type) for c in COLUMNS) for i in range(n)]
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
    ).returning(*(table.c[c] for c in KEY_COLUMNS))
    named = make_url(f"{dialect_name}://").get_dialect()(paramstyle="named")  # type: ignore[call-arg]  # DefaultDialect takes it
    return str(upsert.compile(dialect=named)).replace("::", "\\:\\:")  # PostgreSQL casts are not binds


def _openjson_type(name: str) -> str:
    table = trades_table("mssql")
    return str(table.c[name].type.compile(dialect=dialect_named("mssql"))).split(" COLLATE ")[0]


@lru_cache(maxsize=1)
def mssql_merge_text() -> str:
    """The MERGE sp_executesql runs: constant for every batch; @rows is the batch as a JSON array."""
    table = trades_table("mssql")
    quote = dialect_named("mssql").identifier_preparer.quote
    target = f"{quote(table.schema or 'dbo')}.{quote(table.name)}"
    keys = {"trade_id", "book_id", "counterparty_id"}

    def source(c: str) -> str:  # explicit collation: OPENJSON's columns take the database default
        return f"v.{quote(c)} COLLATE {MSSQL_KEY_COLLATION} AS {quote(c)}" if c in keys else f"v.{quote(c)}"

    cols = ", ".join(quote(c) for c in COLUMNS)
    shape = ", ".join(f"{quote(c)} {_openjson_type(c)} '$.{c}'" for c in COLUMNS)
    on = " AND ".join(f"t.{quote(c)} = s.{quote(c)}" for c in KEY_COLUMNS)
    updates = ", ".join(f"t.{quote(c)} = s.{quote(c)}" for c in UPDATE_COLUMNS)
    written = ", ".join(f"{quote(c)} {_openjson_type(c)}" for c in KEY_COLUMNS)
    # HOLDLOCK on the target makes MERGE's match-then-insert atomic (no PK race between consumers);
    # UPDLOCK, HOLDLOCK on the version probe keeps a higher version from landing mid-statement.
    # OUTPUT ... INTO a table variable (not to the client) still works when the table has triggers.
    # Only quoted identifiers and types from the Table are interpolated; values arrive in @rows.
    return (
        f"SET NOCOUNT ON;\n"  # noqa: S608  # nosec B608  # Table identifiers only
        f"DECLARE @written TABLE ({written});\n"
        f"MERGE INTO {target} WITH (HOLDLOCK) AS t\n"
        f"USING (\n"
        f"  SELECT {', '.join(source(c) for c in COLUMNS)}\n"
        f"  FROM OPENJSON(@rows) WITH ({shape}) AS v\n"
        f"  WHERE NOT EXISTS (SELECT 1 FROM {target} AS h WITH (UPDLOCK, HOLDLOCK)\n"
        f"    WHERE h.{quote('trade_id')} = v.{quote('trade_id')} COLLATE {MSSQL_KEY_COLLATION}\n"
        f"    AND h.{quote('version')} > v.{quote('version')})\n"
        f") AS s\n"
        f"ON {on}\n"
        f"WHEN MATCHED THEN UPDATE SET {updates}\n"
        f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({', '.join(f's.{quote(c)}' for c in COLUMNS)})\n"
        f"OUTPUT {', '.join(f'inserted.{quote(c)}' for c in KEY_COLUMNS)} INTO @written;\n"
        f"SELECT {', '.join(quote(c) for c in KEY_COLUMNS)} FROM @written;"
    )


@lru_cache(maxsize=1)
def mssql_upsert() -> Executable:
    """EXEC sp_executesql N'<MERGE>', N'@rows NVARCHAR(MAX)', @rows = :rows."""
    inner = mssql_merge_text().replace("'", "''")
    sql = f"EXEC sp_executesql N'{inner}', N'@rows NVARCHAR(MAX)', @rows = :rows"
    return sa.text(sql).bindparams(sa.bindparam("rows", type_=sa.UnicodeText()))
