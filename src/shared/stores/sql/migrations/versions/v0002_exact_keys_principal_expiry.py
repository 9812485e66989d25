"""Exact keys, provenance and a bounded expiry (issue 13, items 1, 9, 10, 11; provenance).

- Key columns compare code point by code point: NVARCHAR(128) under Latin1_General_100_BIN2 on SQL
  Server (the primary key is dropped and re-created around the change), collation "C" on PostgreSQL;
  SQLite's TEXT already compares bytes.
- `principal` (who submitted the trade), NULL for rows stored before.
- The index duplicating the primary key's prefix (trade_id, version) is dropped; a filtered index
  on maturity_date of live trades serves the expiry job.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.stores.sql.schema import (
    EXPIRY_INDEX,
    KEY_COLUMNS,
    expiry_index_where,
    identifier_type,
    principal_type,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID_COLUMNS = ("trade_id", "book_id", "counterparty_id")


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    schema = "dbo" if dialect == "mssql" else None
    op.drop_index("ix_trades_trade_id_version", table_name="trades", schema=schema, if_exists=True)
    if dialect == "mssql":
        op.drop_constraint("pk_trades", "trades", type_="primary", schema=schema)
    if dialect in ("mssql", "postgresql"):
        for name in ID_COLUMNS:
            op.alter_column(
                "trades",
                name,
                type_=identifier_type(dialect),
                existing_type=sa.String(64),
                existing_nullable=False,
                schema=schema,
            )
    if dialect == "mssql":
        op.create_primary_key("pk_trades", "trades", list(KEY_COLUMNS), schema=schema)
    op.add_column("trades", sa.Column("principal", principal_type(dialect), nullable=True), schema=schema)
    op.create_index(EXPIRY_INDEX, "trades", ["maturity_date"], schema=schema, **expiry_index_where(dialect))


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    schema = "dbo" if dialect == "mssql" else None
    op.drop_index(EXPIRY_INDEX, table_name="trades", schema=schema)
    with op.batch_alter_table("trades", schema=schema) as batch:
        batch.drop_column("principal")
    if dialect == "mssql":
        op.drop_constraint("pk_trades", "trades", type_="primary", schema=schema)
    if dialect in ("mssql", "postgresql"):
        for name in ID_COLUMNS:
            op.alter_column("trades", name, type_=sa.String(64), existing_nullable=False, schema=schema)
    if dialect == "mssql":
        op.create_primary_key("pk_trades", "trades", list(KEY_COLUMNS), schema=schema)
    op.create_index("ix_trades_trade_id_version", "trades", ["trade_id", "version"], schema=schema)
