"""The two stores as the benchmark sees them: count, when each trade was persisted, raw bulk upsert rate."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.schema import TradePayload
from shared.settings import Settings
from shared.sink import StoredTrade, TradeSink
from tradestore.bench.trades import trades


class BenchStore(Protocol):
    name: str

    def count(self) -> int: ...

    def persisted_at(self) -> dict[str, datetime]: ...

    def sink(self) -> TradeSink: ...


class MongoStore:
    name = "mongo"

    def __init__(self, settings: Settings) -> None:
        from pymongo import MongoClient

        self.settings = settings
        self.client: Any = MongoClient(
            settings.mongo_url_value, tz_aware=True, serverSelectionTimeoutMS=5000, socketTimeoutMS=30_000
        )
        self.coll = self.client[settings.mongo_db][settings.mongo_collection]

    def count(self) -> int:
        return int(self.coll.estimated_document_count())

    def persisted_at(self) -> dict[str, datetime]:
        return {
            d["trade_id"]: d["persisted_at"] for d in self.coll.find({}, {"trade_id": 1, "persisted_at": 1})
        }

    def sink(self) -> TradeSink:
        from kafkaconsumer.sink import MongoSink

        return MongoSink.from_settings(self.settings)


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

    def sink(self) -> TradeSink:
        from shared.stores.sql import SqlStore as SqlAdapter

        sink: TradeSink = SqlAdapter.from_settings(self.settings)
        return sink


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
        sink.upsert(records[i : i + chunk])
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
