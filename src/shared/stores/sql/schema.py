"""The one definition of the SQL `trades` table (a SQLAlchemy Table): DDL, statements, migrations use it.

Key columns compare exactly as MongoDB and Python do (code point by code point, case-sensitive):
- SQL Server: NVARCHAR under a binary collation. 64 code points outside the BMP are 128 UTF-16 code
  units, so the columns hold 128 units; VARCHAR under the server default collation corrupted non-CP1252
  characters and folded case (issue 13, item 1).
- PostgreSQL: VARCHAR(64) (it counts characters) under collation "C" (byte order of UTF-8 = code points).
- SQLite: TEXT compared with BINARY (memcmp of UTF-8 = code points).
SQL Server keeps the table in schema `dbo` of its own database (see shared.stores.sql.migrate).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.types import TypeEngine

from shared.schema import ID_MAX_LENGTH

TABLE_NAME = "trades"
MSSQL_KEY_COLLATION = "Latin1_General_100_BIN2"
MSSQL_ID_UNITS = 2 * ID_MAX_LENGTH  # UTF-16 code units of ID_MAX_LENGTH code points outside the BMP
PRINCIPAL_MAX_LENGTH = 256
EXPIRY_INDEX = "ix_trades_expiry"
KEY_COLUMNS = ("trade_id", "version", "book_id")
TRADE_COLUMNS = (
    "trade_id",
    "book_id",
    "counterparty_id",
    "version",
    "maturity_date",
    "created_date",
    "expired",
)
METADATA_COLUMNS = ("kafka_partition", "kafka_offset", "persisted_at", "principal")
COLUMNS = TRADE_COLUMNS + METADATA_COLUMNS
# Columns a same-key re-delivery overwrites ("the same key overrides").
UPDATE_COLUMNS = tuple(c for c in COLUMNS if c not in KEY_COLUMNS)


def schema_for(dialect_name: str) -> str | None:
    """`dbo` on SQL Server, the connection's default schema elsewhere."""
    return "dbo" if dialect_name == "mssql" else None


def identifier_type(dialect_name: str) -> TypeEngine[str]:
    """The type of an id column (trade_id, book_id, counterparty_id) on a dialect."""
    if dialect_name == "mssql":
        return sa.NVARCHAR(MSSQL_ID_UNITS, collation=MSSQL_KEY_COLLATION)
    if dialect_name == "postgresql":
        return sa.String(ID_MAX_LENGTH, collation="C")
    return sa.String(ID_MAX_LENGTH)


def principal_type(dialect_name: str) -> TypeEngine[str]:
    """Who submitted the trade (API key id or token subject): Unicode, so NVARCHAR on SQL Server."""
    return sa.NVARCHAR(PRINCIPAL_MAX_LENGTH) if dialect_name == "mssql" else sa.String(PRINCIPAL_MAX_LENGTH)


@cache
def trades_table(dialect_name: str) -> sa.Table:
    """The `trades` Table for a dialect (`mssql`, `postgresql`, `sqlite`), on its own MetaData."""
    metadata = sa.MetaData(schema=schema_for(dialect_name))
    ident = identifier_type(dialect_name)
    table = sa.Table(
        TABLE_NAME,
        metadata,
        sa.Column("trade_id", ident, nullable=False),
        sa.Column("book_id", ident, nullable=False),
        sa.Column("counterparty_id", ident, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        # DATE, not the generic Date: SQLAlchemy's mssql compiler turns Date into DATETIME when it
        # does not know the server version (offline DDL), and the table must hold a plain date.
        sa.Column("maturity_date", sa.DATE, nullable=False),
        sa.Column("created_date", sa.DATE, nullable=False),
        # BIT on SQL Server, BOOLEAN on PostgreSQL; no CHECK constraint, the payload is already a bool.
        sa.Column("expired", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("kafka_partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column("persisted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", principal_type(dialect_name), nullable=True),
        # The primary key's index also serves "max version of a trade_id" (its prefix): no second index.
        sa.PrimaryKeyConstraint(*KEY_COLUMNS, name="pk_trades"),
    )
    sa.Index(EXPIRY_INDEX, table.c.maturity_date, **expiry_index_where(dialect_name))
    return table


def expiry_index_where(dialect_name: str) -> dict[str, Any]:
    """The expiry job filters on live trades by maturity date: a filtered (partial) index on exactly that."""
    live = sa.text("NOT expired" if dialect_name == "postgresql" else "expired = 0")
    return {f"{dialect_name}_where": live}


def dialect_named(name: str) -> Dialect:
    """A dialect instance by short name (`mssql`, `postgresql`, `sqlite`), to compile without a database."""
    key = {"sqlserver": "mssql", "postgres": "postgresql"}.get(name, name)
    if key not in ("mssql", "postgresql", "sqlite"):
        raise ValueError(f"unknown SQL dialect {name!r}; use one of mssql, postgresql, sqlite")
    return make_url(f"{key}://").get_dialect()()
