"""One bench run: every row measured in the same run on the same broker, so the ratios are side by side."""

from __future__ import annotations

import logging
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tradestore_tools.bench import ceiling, headline, load
from tradestore_tools.bench.cpu import CpuSplit
from tradestore_tools.bench.facts import machine_facts, peak_rss_mb
from tradestore_tools.bench.raw import mongo_docs_rate, mongo_raw_rate, sql_raw_rate
from tradestore_tools.bench.stack import BenchStack, bench_stack
from tradestore_tools.bench.stores import BenchStore, MongoStore, SqlStore, wait_for_count

log = logging.getLogger("tradestore_tools.bench")


@dataclass(frozen=True)
class Sizes:
    raw_trades: int = 200_000
    single_seconds: float = 5.0
    concurrencies: tuple[int, ...] = (1, 4, 16)
    batch_trades: int = 100_000
    batch_size: int = 10_000
    batch_concurrency: int = 2
    sink_trades: int = 10_000
    e2e_trades: int = 10_000
    consumer_batch_size: int = 1000  # Settings' default, chosen with bench/mongo_sink.py
    postgres: bool = True
    workers: int = 1
    wrk_seconds: float = 10.0  # issue 14's load: wrk -t2 -c16, naive reference and TradeStore


QUICK = Sizes(5_000, 1.0, (1, 4, 16), 4_000, 1_000, 2, 300, 300, 500, False, 1, 1.0)


HEADLINE_ROWS = ("naive_single", "single_wrk", "e2e_wrk")
RAW_RATES: dict[str, Callable[[str, int, int], float]] = {"mongo": mongo_raw_rate, "sql": sql_raw_rate}


class Run:
    """Runs each measurement, recording an error instead of a number when one cannot be taken."""

    def __init__(self, stack: BenchStack, sizes: Sizes) -> None:
        self.stack, self.sizes = stack, sizes
        self.rows: dict[str, dict[str, Any]] = {}
        self.tag = str(time.time_ns())

    def row(self, name: str, measure: Callable[[], dict[str, Any]]) -> None:
        log.info("measuring %s", name)
        try:
            self.rows[name] = measure()
        except Exception as exc:
            log.debug("row %s failed:\n%s", name, traceback.format_exc())
            self.rows[name] = {"error": f"not available: {type(exc).__name__}: {exc}"}

    def api_rows(self) -> None:
        s = self.sizes
        settings = self.stack.settings(self.stack.topic("bench-raw"))
        self.row("raw_producer", lambda: ceiling.raw_ceiling(settings, settings.trades_topic, s.raw_trades))
        api_settings = self.stack.settings(self.stack.topic("bench-api"), tradedata_workers=s.workers)
        api = self.stack.api(api_settings)
        for c in s.concurrencies:
            self.row(f"single_c{c}", self._single(api.url, c))
        self.row("batch", lambda: self.batch_row(api))
        self.rows["memory_api"] = {"peak_rss_mb": peak_rss_mb(api.proc.pid) if api.proc else 0.0}
        self.stack.stop(api)

    def _single(self, url: str, connections: int) -> Callable[[], dict[str, Any]]:
        s = self.sizes
        return lambda: load.wrk_single(url, connections, s.single_seconds, f"S{connections}x{self.tag}")

    def batch_row(self, api: Any) -> dict[str, Any]:
        s = self.sizes
        with CpuSplit(self.stack.cpu_roots(api)) as split:
            result = load.post_batches(
                api.url, s.batch_trades, s.batch_size, s.batch_concurrency, f"B{self.tag}"
            )
        result["cpu"] = split.row(result["accepted"])
        raw = self.rows.get("raw_producer", {}).get("trades_per_s")
        if raw:
            result["ratio_to_raw"] = result["trades_per_s"] / raw
        return result

    def store(self, name: str, db: str) -> tuple[BenchStore, Any]:
        settings = self.stack.settings(
            "unused", mongo_url=self.stack.mongo_url, sql_url=self.stack.sql_url, mongo_db=db,
            consumer_batch_size=self.sizes.consumer_batch_size,
        )  # fmt: skip
        return (MongoStore(settings) if name == "mongo" else SqlStore(settings)), settings

    def sink_row(self, name: str, sql_url: str | None = None) -> dict[str, Any]:
        """Drain a pre-filled topic with `tradestore consume NAME`; compare with the sink's bulk upsert."""
        saved, self.stack.sql_url = self.stack.sql_url, sql_url or self.stack.sql_url
        try:
            return self._sink_row(name)
        finally:
            self.stack.sql_url = saved

    def _sink_row(self, name: str) -> dict[str, Any]:
        s = self.sizes
        raw_store, raw_settings = self.store(name, f"raw_{self.tag}")
        # the store's own raw rate: the sink's write function, no Kafka (tradestore_tools.bench.raw)
        url = raw_settings.mongo_url_value if name == "mongo" else raw_settings.sql_url_value
        raw = {"trades_per_s": RAW_RATES[name](url, s.sink_trades, s.consumer_batch_size)}
        self._clear_sql(raw_store)  # SQL raw rows share the sink's table
        topic = self.stack.topic(f"bench-sink-{name}")
        settings = self.stack.settings(
            topic, consumer_batch_size=s.consumer_batch_size, mongo_db=f"sink_{self.tag}"
        )
        ceiling.produce(settings, topic, s.sink_trades, f"K{name}{self.tag}")
        store, _ = self.store(name, f"sink_{self.tag}")
        consumer = self.stack.consumer(name, settings)  # returns once it has joined its group (/ready)
        joined = time.perf_counter()
        with CpuSplit(self.stack.cpu_roots(consumer)) as split:
            _first, last, _rows = wait_for_count(store, s.sink_trades, 300)
        rate = s.sink_trades / max(last - joined, 1e-6)
        self.rows[f"memory_consume_{name}"] = {
            "peak_rss_mb": peak_rss_mb(consumer.proc.pid) if consumer.proc else 0
        }
        self.stack.stop(consumer)
        if name == "sql":
            self._clear_sql(store)
        return {
            "trades": s.sink_trades,
            "trades_per_s": rate,
            "raw_upsert_per_s": raw["trades_per_s"],
            "ratio_to_raw": rate / raw["trades_per_s"],
            "consumer_batch_size": s.consumer_batch_size,
            "raw_source": f"tradestore_tools.bench.raw.{name}_raw_rate",
            "cpu": split.row(s.sink_trades),
            **self._docs_yardstick(name, raw_settings),
        }

    def _docs_yardstick(self, name: str, settings: Any) -> dict[str, float]:
        """MongoDB: plain inserts of the same documents, the raw figure before the version guard (25dce28)."""
        if name != "mongo":
            return {}
        s = self.sizes
        return {
            "raw_docs_insert_per_s": mongo_docs_rate(
                settings.mongo_url_value, s.sink_trades, s.consumer_batch_size
            )
        }

    @staticmethod
    def _clear_sql(store: BenchStore) -> None:
        if isinstance(store, SqlStore):
            with store.engine.begin() as conn:
                conn.execute(store.table.delete())

    def e2e_row(self) -> dict[str, Any]:
        """`e2e_trades` through the API (batch POSTs) until present in both stores; per-trade latency."""
        s = self.sizes
        db = f"e2e_{self.tag}"
        settings = self.stack.settings(
            self.stack.topic("bench-e2e"), mongo_db=db, consumer_batch_size=s.consumer_batch_size,
            tradedata_workers=s.workers,
        )  # fmt: skip
        consumers = [self.stack.consumer(n, settings) for n in ("mongo", "sql")]
        api = self.stack.api(settings)
        stores = [self.store(n, db)[0] for n in ("mongo", "sql")]
        size = min(s.batch_size, 1_000)
        sent_at: list[datetime] = []
        started = time.perf_counter()
        load.post_batches(api.url, s.e2e_trades, size, 2, f"E{self.tag}", sent_at)
        for store in stores:
            wait_for_count(store, s.e2e_trades, 120)
        total = time.perf_counter() - started
        done: dict[str, datetime] = {}
        for store in stores:
            for trade_id, when in store.persisted_at().items():
                done[trade_id] = max(done.get(trade_id, when), when)
        latencies = [
            (when - sent_at[int(tid.rsplit("-", 1)[1]) // size]).total_seconds() * 1000
            for tid, when in done.items()
        ]
        for proc in (api, *consumers):
            self.stack.stop(proc)
        return {
            "trades": s.e2e_trades,
            "seconds": total,
            "trades_per_s": s.e2e_trades / total,
            "p50_ms": statistics.median(latencies),
            "p99_ms": load.percentile(latencies, 0.99),
            "note": "per trade: its batch POST sent -> the later of the two stores' persisted_at",
        }

    def headline_rows(self) -> None:
        """Issue 14: naive reference and TradeStore under the same wrk load, consumers running."""
        s, stack = self.sizes, self.stack
        self.row("naive_single", lambda: headline.naive_row(stack, s.wrk_seconds, self.tag))
        try:
            found = headline.tradestore_rows(
                stack, s.wrk_seconds, self.tag, lambda n, db: self.store(n, db)[0], s.consumer_batch_size
            )
            self.rows.update(found)
        except Exception as exc:
            log.debug("headline rows failed:\n%s", traceback.format_exc())
            for name in ("single_wrk", "e2e_wrk"):
                self.rows[name] = {"error": f"not available: {type(exc).__name__}: {exc}"}
        self._clear_sql(self.store("sql", "unused")[0])

    def sink_rows(self) -> None:
        try:
            self.stack.start_stores(self.sizes.postgres)
        except Exception as exc:
            for name in (*HEADLINE_ROWS, "sink_mongo", "sink_sql", "sink_sqlite", "e2e"):
                self.rows[name] = {"error": f"not available: stores did not start: {exc}"}
            return
        self.headline_rows()
        self.row("sink_mongo", lambda: self.sink_row("mongo"))
        self.row("sink_sql", lambda: self.sink_row("sql"))
        (self.stack.workdir / "sqlite").mkdir(parents=True, exist_ok=True)
        sqlite = f"sqlite:///{self.stack.workdir / 'sqlite' / 'trades.db'}"
        if self.stack.sql_url and self.stack.sql_url.startswith("sqlite"):
            self.rows["sink_sqlite"] = self.rows["sink_sql"]  # the SQL database is SQLite already
        else:
            self.row("sink_sqlite", lambda: self.sink_row("sql", sqlite))
        self.row("e2e", self.e2e_row)


def run_bench(sizes: Sizes, workdir: Path, checkout: Path, sinks: bool = True) -> dict[str, Any]:
    """Start the stack, measure every row, return the result document (facts, sizes, rows).

    `checkout` only names the commit in the facts (git rev-parse there); nothing is run from it.
    """
    started = time.perf_counter()
    with bench_stack(workdir) as stack:
        run = Run(stack, sizes)
        run.api_rows()
        if sinks:
            run.sink_rows()
    return {
        "facts": machine_facts(checkout),
        "sizes": asdict(sizes),
        "rows": run.rows,
        "wall_s": time.perf_counter() - started,
    }
