"""Benchmark: one sink draining a pre-filled topic, with where the CPU went; runs on this checkout or on an
older one (25dce28, whose packages were laid out differently), so bench/sink_compare.py can put the two
side by side with the same program.

Starts its own broker and store (nx-27017, embedded PostgreSQL, or a SQLite file) in a temp dir, fills a
topic with --trades fresh trades, drains it through the checkout's ConsumerRuntime and prints one line:
`drain SINK trades/s=R cpu_us_per_trade: store=S broker=B consumer=C wall_s=W`. Store and broker CPU come
from /proc of the processes it started; consumer CPU is this process's. With --raw it first measures the
store's raw rate on the same server (tradestore_tools.bench.raw: the sink's own write function on the same
trades, in a database of its own, after one warm-up batch, as the drain is timed after its first batch) and
adds `raw/s=W ratio=R` to the line. A program, not a test.

    PYTHONPATH=CHECKOUT/src python bench/sink_drain.py mongo|sqlite|postgresql [--trades N] [--batch N]
        [--raw]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tradestore_tools.bench.cpu import cpu_s


def services() -> tuple[Any, Any, Any, Any]:
    """(EmbeddedBroker, EmbeddedMongo, EmbeddedPostgres, free_port) of whichever layout this checkout has."""
    try:
        from tradestore.local.kafka import EmbeddedBroker
        from tradestore.local.mongo import EmbeddedMongo
        from tradestore.local.postgres import EmbeddedPostgres
        from tradestore.local.process import free_port
    except ImportError:  # 25dce28
        from tradestore.embedded.kafka import EmbeddedBroker  # type: ignore[no-redef]
        from tradestore.embedded.mongo import EmbeddedMongo  # type: ignore[no-redef]
        from tradestore.embedded.postgres import EmbeddedPostgres  # type: ignore[no-redef]
        from tradestore.embedded.process import free_port  # type: ignore[no-redef]
    return EmbeddedBroker, EmbeddedMongo, EmbeddedPostgres, free_port


def writer(kind: str, settings: Any) -> Any:
    try:
        from shared.stores import open_writer
    except ImportError:  # 25dce28: one sink class per service
        if kind == "mongo":
            from kafkaconsumer.sink import MongoSink

            return MongoSink.from_settings(settings)
        from kafkaconsumermssql.sink import SqlSink

        return SqlSink.from_settings(settings)
    return open_writer(settings, kind)


def fresh_trade(trade_id: str, i: int) -> Any:
    """Trade number `i` of a drain: a first version, spread over 7 books (bench/sink_cpu.py uses it too)."""
    from shared.schema import TradePayload

    return TradePayload(
        trade_id=trade_id,
        counterparty_id="CP-1",
        book_id=f"B-{i % 7}",
        version=1,
        maturity_date="2030-01-15",  # type: ignore[arg-type]
        created_date="2025-09-28",  # type: ignore[arg-type]
    )


def fill(settings: Any, n: int) -> None:
    from shared.kafka import TradeProducer

    producer = TradeProducer(settings)
    futures = []
    for i in range(n):
        t = fresh_trade(f"T-{i}", i)
        futures.append(producer.send(settings.trades_topic, value=t.to_message(), key=t.kafka_key()))
    for f in futures:
        f.result(60)
    producer.close()


def drain(settings: Any, kind: str, n: int, pids: dict[str, int]) -> str:
    from shared.consumer import ConsumerRuntime

    runtime = ConsumerRuntime(settings, writer("mongo" if kind == "mongo" else "sql", settings))
    try:  # what the service (shared.consumer.service.serve) does to the process before it runs
        from shared.consumer.service import settle_heap
    except ImportError:  # older checkouts: the collector's defaults
        pass
    else:
        settle_heap()
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()

    def persisted() -> float:
        return float(runtime.metrics.value("tradestore_persisted_total"))

    deadline = time.monotonic() + 600
    while persisted() == 0 and time.monotonic() < deadline:
        time.sleep(0.005)  # the first batch marks the end of the group join
    first, t0, c0 = persisted(), time.perf_counter(), time.process_time()
    s0 = {name: cpu_s(pid) for name, pid in pids.items()}
    while persisted() < n and time.monotonic() < deadline:
        time.sleep(0.005)
    wall, consumer = time.perf_counter() - t0, time.process_time() - c0
    used = {name: cpu_s(pid) - s0[name] for name, pid in pids.items()}
    done = persisted() - first
    runtime.stop()
    thread.join(30)
    per = {name: f"{seconds / done * 1e6:.0f}" for name, seconds in {**used, "consumer": consumer}.items()}
    return (
        f"drain {kind} trades/s={done / wall:.0f} cpu_us_per_trade: store={per.get('store', 'nan')} "
        f"broker={per['broker']} consumer={per['consumer']} wall_s={wall:.2f} code={_code()}"
    )


def _code() -> str:
    import shared

    return str(Path(shared.__file__).parent.parent)


def raw_rate(kind: str, store: Any, work: Path, n: int, batch: int) -> float:
    """The store's raw write rate of n fresh trades (after a warm-up batch), each run in a new database."""
    from tradestore_tools.bench import raw

    if kind == "mongo":
        raw.mongo_raw_rate(store.url, batch, batch)
        return raw.mongo_raw_rate(store.url, n, batch)
    urls = iter(range(2))

    def new_url() -> str:
        name = f"raw_{next(urls)}_{uuid.uuid4().hex[:8]}"
        if kind == "sqlite":
            return f"sqlite:///{work / name}.db"
        import psycopg

        with psycopg.connect(store.url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a generated name
        return str(store.url_for(name))

    raw.sql_raw_rate(new_url(), batch, batch)
    return raw.sql_raw_rate(new_url(), n, batch)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kind", choices=["mongo", "sqlite", "postgresql"])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="CONSUMER_BATCH_SIZE (Settings' default)")
    parser.add_argument("--raw", action="store_true", help="also the store's raw rate, same server")
    args = parser.parse_args()
    from shared.kafka import ensure_topics
    from shared.settings import Settings

    EmbeddedBroker, EmbeddedMongo, EmbeddedPostgres, free_port = services()  # noqa: N806
    with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp:
        work = Path(tmp)
        broker = EmbeddedBroker("127.0.0.1", free_port(), work / "kafka")
        store = None
        extra: dict[str, Any] = {}
        if args.kind == "mongo":
            store = EmbeddedMongo("127.0.0.1", free_port(), work / "mongo")
        elif args.kind == "postgresql":
            store = EmbeddedPostgres("127.0.0.1", free_port(), work / "postgres")
        try:
            broker.start()
            if store is not None:
                store.start()
            if args.kind == "mongo":
                extra = {"mongo_url": store.url, "mongo_db": "drain"}
            else:
                extra = {"sql_url": store.url if store else f"sqlite:///{work / 'drain.db'}"}
            topic = f"drain-{uuid.uuid4().hex[:8]}"
            settings = Settings(
                kafka_bootstrap_servers=broker.bootstrap,
                trades_topic=topic,
                trades_dlq_topic=f"{topic}-dlq",
                consumer_group=f"drain-{uuid.uuid4().hex[:8]}",
                consumer_batch_size=args.batch,
                tradestore_env="test",
                **extra,
            )
            ensure_topics(settings)
            fill(settings, args.trades)
            pids = {"broker": broker.proc.pid}
            if store is not None:
                pids["store"] = store.proc.pid
            line = drain(settings, args.kind, args.trades, pids)
            if args.raw:
                rate = float(line.split("trades/s=", 1)[1].split()[0])
                raw = raw_rate(args.kind, store, work, args.trades, args.batch)
                line += f" raw/s={raw:.0f} ratio={rate / raw:.2f}"
            print(line, flush=True)
        finally:
            if store is not None:
                store.stop()
            broker.stop()


if __name__ == "__main__":
    main()
