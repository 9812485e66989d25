"""Alembic environment: online on the connection shared.stores.sql.migrate passes; offline for --print-ddl."""

from __future__ import annotations

from alembic import context
from alembic.config import Config


def run(config: Config) -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # Offline: SQL text for a dialect (`tradestore migrate --print-ddl`), no database needed.
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    else:
        context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


try:
    alembic_config = context.config
except AttributeError:  # imported outside an Alembic command (e.g. a walk over every module): nothing to do
    pass
else:
    run(alembic_config)
