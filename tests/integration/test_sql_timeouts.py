"""Statement and lock timeouts from settings on every local SQL backend (SQL Server: unit-tested text)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fixtures.sql import create_database
from shared.errors import StoreUnavailable
from shared.settings import Settings
from shared.stores.sql import SqlStore
from shared.stores.sql.errors import store_errors
from tradestore.local.postgres import EmbeddedPostgres


def test_every_connection_carries_the_configured_timeouts(local_sql_url: str) -> None:
    settings = Settings(sql_url=local_sql_url, sql_statement_timeout_s=7, sql_lock_timeout_s=1.5)  # type: ignore[arg-type]
    store = SqlStore.from_settings(settings)
    try:
        with store.engine.connect() as conn:
            if store.dialect == "postgresql":
                assert conn.execute(sa.text("SHOW statement_timeout")).scalar_one() == "7s"
                assert conn.execute(sa.text("SHOW lock_timeout")).scalar_one() == "1500ms"
            else:
                assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar_one() == 1500
    finally:
        store.close()


def test_a_statement_running_past_the_statement_timeout_is_cancelled_as_transient(
    postgres_server: EmbeddedPostgres,
) -> None:
    """PostgreSQL cancels it (57014); SQLite has no statement timeout, its lock wait is in test_sql_poison."""
    settings = Settings(sql_url=create_database(postgres_server), sql_statement_timeout_s=0.2)  # type: ignore[arg-type]
    store = SqlStore.from_settings(settings)
    try:
        with (
            pytest.raises(StoreUnavailable, match="statement timeout"),
            store_errors(store.engine, "sleeping"),
            store.engine.connect() as conn,
        ):
            conn.execute(sa.text("SELECT pg_sleep(5)"))
    finally:
        store.close()
