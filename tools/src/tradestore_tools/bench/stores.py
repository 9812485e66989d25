"""The two stores as the benchmark sees them: count and when each trade was persisted."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from pymongo import MongoClient

from shared.ports import TradeFilter
from shared.settings import Settings
from shared.stores import open_reader


class BenchStore(Protocol):
    name: str

    def count(self) -> int: ...

    def persisted_at(self) -> dict[str, datetime]: ...


class MongoStore:
    """Rows through the store's own reader (shared.stores.mongo); the count polled during a drain is the
    collection's estimated count, as 25dce28's benchmark took it: the reader's count (count_documents plus
    a sorted page) costs nx-27017, one process shared with the sink being timed, a scan per poll, which
    slowed the very drain it timed (measured: bench/sink_drain.py vs `tradestore bench`, session 3)."""

    name = "mongo"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_reader(settings, "mongo")
        self._client: MongoClient[dict[str, object]] | None = None

    def count(self) -> int:
        if self._client is None:
            self._client = MongoClient(self.settings.mongo_url_value, serverSelectionTimeoutMS=5000)
        coll = self._client[self.settings.mongo_db][self.settings.mongo_collection]
        return int(coll.estimated_document_count())

    def persisted_at(self) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        while True:
            page, total = self.store.find(TradeFilter(), 1000, len(found))
            found.update({s.trade.trade_id: s.persisted_at for s in page})
            if not page or len(found) >= total:
                return found


class SqlStore:
    name = "sql"

    def __init__(self, settings: Settings) -> None:
        import sqlalchemy as sa

        from shared.stores.sql.engine import make_engine
        from shared.stores.sql.schema import trades_table

        self.settings = settings
        self.sa = sa
        self.engine = make_engine(settings.sql_url_value)
        self.table = trades_table(self.engine.dialect.name)

    def count(self) -> int:
        try:
            with self.engine.connect() as conn:
                return int(
                    conn.execute(self.sa.select(self.sa.func.count()).select_from(self.table)).scalar_one()
                )
        except self.sa.exc.OperationalError:  # table not created yet
            return 0
        except self.sa.exc.ProgrammingError:
            return 0

    def persisted_at(self) -> dict[str, datetime]:
        c = self.table.c
        with self.engine.connect() as conn:
            rows = conn.execute(self.sa.select(c.trade_id, c.persisted_at)).all()
        return {str(t): (p if p.tzinfo else p.replace(tzinfo=UTC)) for t, p in rows}


def wait_for_count(  # polled gently: nx-27017 is one Python process that the count competes with
    store: BenchStore, target: int, timeout_s: float, step_s: float = 0.25
) -> tuple[float, float, int]:
    """Poll until the store holds `target` rows: (time of first row, time of the last, rows at first seen)."""
    deadline = time.monotonic() + timeout_s
    first: float | None = None
    first_rows = 0
    while time.monotonic() < deadline:
        rows = store.count()
        now = time.perf_counter()
        if rows and first is None:
            first, first_rows = now, rows
        if rows >= target:
            return first or now, now, first_rows
        time.sleep(step_s)
    raise TimeoutError(f"{store.name}: {store.count()} of {target} rows after {timeout_s:g}s")
