"""The one definition of the SQL `trades` table (a SQLAlchemy Table); all DDL and statements derive from it.

SQL Server keeps it in schema `dbo` (what the user's checks query); PostgreSQL and SQLite use their
default schema. Identifiers are bounded VARCHAR(ID_MAX_LENGTH), never MAX: SQL Server cannot key on MAX.
"""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.sql.ddl import ExecutableDDLElement

from shared.schema import ID_MAX_LENGTH

TABLE_NAME = "trades"
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
METADATA_COLUMNS = ("kafka_partition", "kafka_offset", "persisted_at")
COLUMNS = TRADE_COLUMNS + METADATA_COLUMNS
# Columns a same-key re-delivery overwrites ("the same key overrides").
UPDATE_COLUMNS = tuple(c for c in COLUMNS if c not in KEY_COLUMNS)


def schema_for(dialect_name: str) -> str | None:
    """`dbo` on SQL Server, the connection's default schema elsewhere."""
    return "dbo" if dialect_name == "mssql" else None


@cache
def trades_table(dialect_name: str) -> sa.Table:
    """The `trades` Table for a dialect (`mssql`, `postgresql`, `sqlite`), on its own MetaData."""
    metadata = sa.MetaData(schema=schema_for(dialect_name))
    identifier = sa.String(ID_MAX_LENGTH)
    return sa.Table(
        TABLE_NAME,
        metadata,
        sa.Column("trade_id", identifier, nullable=False),
        sa.Column("book_id", identifier, nullable=False),
        sa.Column("counterparty_id", identifier, nullable=False),
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
        sa.PrimaryKeyConstraint(*KEY_COLUMNS, name="pk_trades"),
        sa.Index("ix_trades_trade_id_version", "trade_id", "version"),
    )


def dialect_named(name: str) -> Dialect:
    """A dialect instance by short name (`mssql`, `postgresql`, `sqlite`), to compile without a database."""
    key = {"sqlserver": "mssql", "postgres": "postgresql"}.get(name, name)
    if key not in ("mssql", "postgresql", "sqlite"):
        raise ValueError(f"unknown SQL dialect {name!r}; use one of mssql, postgresql, sqlite")
    return make_url(f"{key}://").get_dialect()()


def ddl_statements(dialect: Dialect) -> list[str]:
    """CREATE TABLE and CREATE INDEX for `dialect`, each as compiled text ending with ';'."""
    table = trades_table(dialect.name)
    creates: list[ExecutableDDLElement] = [sa.schema.CreateTable(table)]
    creates.extend(sa.schema.CreateIndex(ix) for ix in table.indexes)
    return [str(stmt.compile(dialect=dialect)).strip() + ";" for stmt in creates]
