"""The two stores as the benchmark sees them: count, when each trade was persisted, raw bulk upsert rate."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from shared.ports import StoredTrade, TradeFilter, TradeWriter
from shared.schema import TradePayload
from shared.settings import Settings
from shared.stores import open_store, open_writer
from tradestore.bench.trades import trades


class BenchStore(Protocol):
    name: str

    def count(self) -> int: ...

    def persisted_at(self) -> dict[str, datetime]: ...

    def sink(self) -> TradeWriter: ...


class MongoStore:
    name = "mongo"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings, "mongo")

    def count(self) -> int:
        return self.store.find(TradeFilter(), 1, 0)[1]

    def persisted_at(self) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        while True:
            page, total = self.store.find(TradeFilter(), 1000, len(found))
            found.update({s.trade.trade_id: s.persisted_at for s in page})
            if not page or len(found) >= total:
                return found

    def sink(self) -> TradeWriter:
        return open_writer(self.settings, "mongo")


class SqlStore:
    name = "sql"

    def __init__(self, settings: Settings) -> None:
        import sqlalchemy as sa

        from kafkaconsumermssql.engine import make_engine
        from kafkaconsumermssql.schema import trades_table

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

    def sink(self) -> TradeWriter:
        return open_writer(self.settings, "sql")


def raw_upsert_rate(store: BenchStore, count: int, chunk: int, prefix: str) -> dict[str, float]:
    """The sink's own bulk upsert, called directly (no Kafka, no runtime), in chunks of `chunk`."""
    sink = store.sink()
    sink.setup()
    now = datetime.now(UTC)
    records = [
        StoredTrade(TradePayload.model_validate(t), 0, n, now) for n, t in enumerate(trades(prefix, count))
    ]
    started = time.perf_counter()
    for i in range(0, count, chunk):
        sink.write(records[i : i + chunk])
    elapsed = time.perf_counter() - started
    sink.close()
    return {"trades": count, "seconds": elapsed, "trades_per_s": count / elapsed}


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
