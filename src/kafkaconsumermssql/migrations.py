"""Apply the `trades` schema idempotently, waiting for the database first (compose's mssql-init runs this)."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa

from kafkaconsumermssql.engine import store_errors
from kafkaconsumermssql.schema import trades_table
from shared.errors import StoreUnavailable

log = logging.getLogger(__name__)


def wait_until_reachable(engine: sa.Engine, timeout_s: float, interval_s: float = 1.0) -> None:
    """Retry `SELECT 1` until it answers; StoreUnavailable with the last reason after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with store_errors(engine, "waiting for the database"), engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return
        except StoreUnavailable as error:
            if time.monotonic() + interval_s > deadline:
                raise StoreUnavailable(f"gave up after {timeout_s:g}s: {error}") from None
            log.info("database not ready yet, retrying: %s", error)
            time.sleep(interval_s)


def migrate(engine: sa.Engine, timeout_s: float = 60.0) -> list[str]:
    """Create what is missing (table, index) and return the names of what was created."""
    wait_until_reachable(engine, timeout_s)
    table = trades_table(engine.dialect.name)
    with store_errors(engine, "migrating"), engine.begin() as conn:
        inspector = sa.inspect(conn)
        existed = inspector.has_table(table.name, schema=table.schema)
        before = (
            {ix["name"] for ix in inspector.get_indexes(table.name, schema=table.schema)}
            if existed
            else set()
        )
        table.metadata.create_all(conn, checkfirst=True)
    created = [] if existed else [table.fullname]
    created += [str(ix.name) for ix in table.indexes if ix.name not in before and existed]
    return created
