"""The `trades` table as `tradestore migrate` created it before Alembic (VARCHAR keys, no principal).

Databases created by that code have this table and no alembic_version: migrate stamps them at this
revision, then upgrades them like any other.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = "dbo" if op.get_context().dialect.name == "mssql" else None
    identifier = sa.String(64)
    op.create_table(
        "trades",
        sa.Column("trade_id", identifier, nullable=False),
        sa.Column("book_id", identifier, nullable=False),
        sa.Column("counterparty_id", identifier, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("maturity_date", sa.DATE, nullable=False),
        sa.Column("created_date", sa.DATE, nullable=False),
        sa.Column("expired", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("kafka_partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column("persisted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trade_id", "version", "book_id", name="pk_trades"),
        schema=schema,
    )
    op.create_index("ix_trades_trade_id_version", "trades", ["trade_id", "version"], schema=schema)


def downgrade() -> None:
    schema = "dbo" if op.get_context().dialect.name == "mssql" else None
    op.drop_table("trades", schema=schema)
