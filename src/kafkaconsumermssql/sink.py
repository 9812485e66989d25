"""SqlSink: the shared.ports.TradeWriter port over SQLAlchemy Core (SQL Server, PostgreSQL, SQLite).

The consumer runtime decides which trades to write (shared.rules.plan_batch); this class only
stores them: one transaction per batch, chunked under the driver's parameter limit, idempotent on
(trade_id, version, book_id), and conditional so a lower version can never land (see statements).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa

from kafkaconsumermssql.engine import make_engine, store_errors
from kafkaconsumermssql.mapper import to_rows
from kafkaconsumermssql.schema import trades_table
from kafkaconsumermssql.statements import (
    chunk_sizes,
    max_rows_per_statement,
    max_versions_statement,
    upsert_params,
    upsert_template,
)
from shared.ports import Key, StoredTrade
from shared.settings import Settings

# trade ids per max_versions query (bound parameters; SQL Server allows 2100).
IDS_PER_QUERY = 1000


class SqlSink:
    """Trades in the SQL table `trades` (dbo.trades on SQL Server). No I/O until a method is called."""

    name = "sql"

    def __init__(self, engine: sa.Engine, chunk_rows: int | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        limit = max_rows_per_statement(self.dialect.name)
        self.chunk_rows = min(chunk_rows or limit, limit)
        self.table = trades_table(self.dialect.name)

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlSink:
        """The sink for SQL_URL (default: the SQLite file under TRADESTORE_HOME)."""
        return cls(make_engine(settings.sql_url_value))

    def setup(self) -> None:
        """Create the table and index when missing (what `tradestore migrate` does)."""
        with store_errors(self.engine, "creating the schema"):
            self.table.metadata.create_all(self.engine, checkfirst=True)

    def ping(self) -> None:
        with store_errors(self.engine, "pinging"), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def max_versions(self, trade_ids: Collection[str]) -> dict[str, int]:
        ids = sorted(set(trade_ids))
        found: dict[str, int] = {}
        if not ids:
            return found
        with store_errors(self.engine, "reading max versions"), self.engine.connect() as conn:
            for start in range(0, len(ids), IDS_PER_QUERY):
                stmt = max_versions_statement(self.dialect.name, ids[start : start + IDS_PER_QUERY])
                found.update({str(tid): int(v) for tid, v in conn.execute(stmt)})
        return found

    def stored_origins(self, keys: Collection[Key]) -> dict[Key, tuple[int, int]]:
        """(partition, offset) each stored key was written from; one query on the trade_ids."""
        wanted = set(keys)
        if not wanted:
            return {}
        t = self.table
        query = sa.select(
            t.c.trade_id, t.c.version, t.c.book_id, t.c.kafka_partition, t.c.kafka_offset
        ).where(t.c.trade_id.in_(sorted({k[0] for k in wanted})))
        with store_errors(self.engine, "reading stored origins"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows if (r[0], r[1], r[2]) in wanted}

    def upsert(self, records: Sequence[StoredTrade]) -> int:
        """Write the batch in one transaction; returns the rows the database reports as written.

        Either every row of the batch is committed or none is, so the runtime may retry the whole
        batch after StoreUnavailable without leaving a gap behind committed offsets.
        """
        rows = to_rows(records)
        if not rows:
            return 0
        written = 0
        with store_errors(self.engine, "writing trades"), self.engine.begin() as conn:
            start = 0
            for size in chunk_sizes(len(rows), self.chunk_rows):
                chunk = rows[start : start + size]
                start += size
                template = upsert_template(self.dialect.name, size)
                # preserve_rowcount: SQLAlchemy 2 only keeps cursor.rowcount of UPDATE/DELETE otherwise.
                result = conn.execute(
                    template.execution_options(preserve_rowcount=True), upsert_params(chunk)
                )
                written += _written(conn, result.rowcount)
        return written

    def count(self) -> int:
        """Rows stored (for tests, tools and benchmarks)."""
        with store_errors(self.engine, "counting trades"), self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one())

    def close(self) -> None:
        self.engine.dispose()


def _written(conn: sa.Connection, rowcount: int) -> int:
    """Rows changed by the last statement; pysqlite reports -1 for `WITH ... INSERT`, so ask SQLite."""
    if rowcount >= 0:
        return rowcount
    if conn.dialect.name == "sqlite":
        return int(conn.execute(sa.text("SELECT changes()")).scalar_one())
    return 0
