"""SqlStore: the SQL adapter (SQL Server, PostgreSQL, SQLite) behind shared.ports, over one engine.

TradeWriter for the consumer runtime, TradeReader for the API, TradeAudit for the operator tools.
The runtime decides which trades to write (shared.rules.plan_batch); this class only stores them:
one transaction per batch, idempotent on (trade_id, version, book_id), conditional so a lower version
never lands, and every failure classified: StoreUnavailable (retry) or StoreRejected (isolate).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import date

import sqlalchemy as sa

from shared.ports import Key, StoredTrade, StoreSummary, TradeFilter, WriteResult
from shared.schema import TradePayload
from shared.settings import Settings
from shared.stores.sql import queries
from shared.stores.sql.engine import SqlLimits, make_engine
from shared.stores.sql.errors import store_errors
from shared.stores.sql.mapper import row_key, to_rows, to_stored
from shared.stores.sql.migrate import upgrade
from shared.stores.sql.schema import COLUMNS, TRADE_COLUMNS, trades_table
from shared.stores.sql.statements import (
    max_rows_per_statement,
    statement_sizes,
    upsert_params,
    upsert_statement,
)

IDS_PER_QUERY = 1000  # trade ids per IN list (bound parameters; SQL Server allows 2100)


class SqlStore:
    """Trades in the SQL table `trades` (dbo.trades on SQL Server). No I/O until a method is called."""

    name = "sql"

    def __init__(
        self, engine: sa.Engine, chunk_rows: int | None = None, expire_batch_rows: int = 4000
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        limit = max_rows_per_statement(self.dialect)
        self.chunk_rows = min(chunk_rows or limit, limit)
        self.expire_batch_rows = expire_batch_rows
        self.table = trades_table(self.dialect)

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlStore:
        """The store for SQL_URL (default: the SQLite file under TRADESTORE_HOME)."""
        engine = make_engine(settings.sql_url_value, SqlLimits.from_settings(settings))
        return cls(engine, expire_batch_rows=settings.sql_expire_batch_rows)

    def setup(self) -> None:
        """Upgrade the schema to the newest migration (what `tradestore migrate` does; idempotent)."""
        upgrade(self.engine)

    def ping(self) -> None:
        with store_errors(self.engine, "pinging"), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def max_versions(self, trade_ids: Collection[str]) -> dict[str, int]:
        ids = sorted(set(trade_ids))
        with store_errors(self.engine, "reading max versions"), self.engine.connect() as conn:
            return self._max_versions(conn, ids)

    def _max_versions(self, conn: sa.Connection, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            sql = queries.max_versions_driver_sql(self.dialect, len(chunk))
            if sql is None:
                rows = conn.execute(queries.max_versions_statement(self.dialect, chunk))
            else:
                params = (list(chunk),) if self.dialect == "postgresql" else tuple(chunk)
                rows = conn.exec_driver_sql(sql, params)
            found.update({str(tid): int(v) for tid, v in rows})
        return found

    def stored_origins(self, keys: Collection[Key]) -> dict[Key, tuple[int, int]]:
        """(partition, offset) each stored key was written from; queries on the trade_ids."""
        wanted = set(keys)
        ids = sorted({k[0] for k in wanted})
        t = self.table
        found: dict[Key, tuple[int, int]] = {}
        with store_errors(self.engine, "reading stored origins"), self.engine.connect() as conn:
            for start in range(0, len(ids), IDS_PER_QUERY):
                query = sa.select(
                    t.c.trade_id, t.c.version, t.c.book_id, t.c.kafka_partition, t.c.kafka_offset
                ).where(t.c.trade_id.in_(ids[start : start + IDS_PER_QUERY]))
                for r in conn.execute(query):
                    found[(r[0], r[1], r[2])] = (r[3], r[4])
        return {key: origin for key, origin in found.items() if key in wanted}

    def write(self, records: Sequence[StoredTrade]) -> WriteResult:
        """Write the batch in one transaction; rows the version guard filtered come back as stale.

        Either every row of the batch is committed or none is, so the runtime may retry the whole
        batch after StoreUnavailable, or split it after StoreRejected, without leaving a gap.
        """
        rows = to_rows(records)
        if not rows:
            return WriteResult(written=0)
        written: set[Key] = set()
        with store_errors(self.engine, "writing trades"), self.engine.begin() as conn:
            start = 0
            for size in statement_sizes(self.dialect, len(rows), self.chunk_rows):
                chunk = rows[start : start + size]
                start += size
                result = conn.execute(
                    upsert_statement(self.dialect, size), upsert_params(self.dialect, chunk)
                )
                written.update((str(r[0]), int(r[1]), str(r[2])) for r in result)
            stale_keys = {row_key(row) for row in rows} - written
            maxima = self._max_versions(conn, sorted({k[0] for k in stale_keys})) if stale_keys else {}
        keys = [record.key for record in records]
        return WriteResult(
            written=sum(1 for key in keys if key in written),
            stale={key: maxima.get(key[0], key[1]) for key in keys if key in stale_keys},
        )

    def count(self) -> int:
        """Rows stored (for tests, tools and benchmarks)."""
        with store_errors(self.engine, "counting trades"), self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one())

    # TradeReader (the read API)

    def versions(self, trade_id: str) -> list[StoredTrade]:
        t = self.table
        query = (
            sa.select(*(t.c[c] for c in COLUMNS)).where(t.c.trade_id == trade_id).order_by(t.c.version.desc())
        )
        with store_errors(self.engine, "reading a trade"), self.engine.connect() as conn:
            return [to_stored(row) for row in conn.execute(query).mappings()]

    def find(self, filters: TradeFilter, limit: int, offset: int) -> tuple[list[StoredTrade], int]:
        t = self.table
        where = queries.filter_clause(self.dialect, filters)
        page = (
            sa.select(*(t.c[c] for c in COLUMNS))
            .where(where)
            .order_by(*queries.key_order(self.dialect))
            .limit(limit)
            .offset(offset)
        )
        with store_errors(self.engine, "listing trades"), self.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(t).where(where)).scalar_one())
            return [to_stored(row) for row in conn.execute(page).mappings()], total

    # TradeAudit (regress, reconcile, expire)

    def summary(self, prefix: str = "") -> StoreSummary:
        t = self.table
        where = queries.prefix_filter(self.dialect, prefix)
        with store_errors(self.engine, "summarising trades"), self.engine.connect() as conn:
            total = conn.scalar(sa.select(sa.func.count()).select_from(t).where(where)) or 0
            expired = conn.scalar(sa.select(sa.func.count()).select_from(t).where(where, t.c.expired)) or 0
            per_book = conn.execute(
                sa.select(t.c.book_id, sa.func.count()).where(where).group_by(t.c.book_id)
            )
            latest = conn.execute(
                sa.select(t.c.trade_id, sa.func.max(t.c.version)).where(where).group_by(t.c.trade_id)
            )
            return StoreSummary(
                total=total,
                per_book={book: n for book, n in per_book},
                latest_version={trade_id: v for trade_id, v in latest},
                expired=expired,
            )

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        """Every stored trade in code-point key order (as Python and MongoDB compare), streamed."""
        t = self.table
        query = (
            sa.select(*(t.c[name] for name in TRADE_COLUMNS))
            .where(queries.prefix_filter(self.dialect, prefix))
            .order_by(*queries.key_order(self.dialect))
        )
        with store_errors(self.engine, "reading trades"), self.engine.connect() as conn:
            for row in conn.execution_options(stream_results=True).execute(query).mappings():
                yield TradePayload.model_validate({**row, "expired": bool(row["expired"])})

    def expire(self, today: date) -> int:
        """Flag live trades with maturity_date < today as expired, in bounded batches; the count."""
        statement = queries.expire_batch_statement(self.dialect)
        params = queries.expire_params(today, self.expire_batch_rows)
        total = 0
        while True:
            with store_errors(self.engine, "expiring trades"), self.engine.begin() as conn:
                done = conn.execute(statement.execution_options(preserve_rowcount=True), params).rowcount
            total += max(done, 0)
            if done < self.expire_batch_rows:
                return total

    def close(self) -> None:
        self.engine.dispose()
