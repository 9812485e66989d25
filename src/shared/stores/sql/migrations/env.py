"""Alembic environment: online on the connection shared.stores.sql.migrate passes; offline for --print-ddl."""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    # Offline: SQL text for a dialect (`tradestore migrate --print-ddl`), no database needed.
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(connection=connection, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()
