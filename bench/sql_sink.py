"""Benchmark: SQL sink rows/s through the consumer runtime vs the raw upsert rate of the same database.

Starts what it needs (Tansu broker, embedded PostgreSQL, a SQLite file) in a temp dir and prints,
per backend: the raw batched upsert rate (same statement, same batch size, no Kafka), the sink's
rate draining a pre-filled topic through shared.consumer.ConsumerRuntime, and their ratio.

    .venv/bin/python bench/sql_sink.py [--trades 20000] [--batch 500]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

from shared.consumer import ConsumerRuntime
from shared.kafka import TradeProducer, ensure_topics
from shared.schema import TradePayload
from shared.settings import Settings
from shared.stores import open_writer
from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.postgres import EmbeddedPostgres
from tradestore.local.process import free_port
from tradestore_tools.bench import raw


def trade(i: int) -> TradePayload:
    return raw.trade(i, f"B-{i % 7}")  # the same trades as raw.sql_raw_rate writes


def sink_rate(bootstrap: str, url: str, n: int, batch: int) -> float:
    """Rows/s persisted by ConsumerRuntime + SqlStore draining a topic pre-filled with n trades."""
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        trades_topic=topic,
        trades_dlq_topic=f"{topic}-dlq",
        sql_url=url,  # type: ignore[arg-type]  # pydantic turns str into SecretStr
        consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
        consumer_batch_size=batch,
        consumer_batch_timeout_ms=50,
        tradestore_env="test",
    )
    ensure_topics(settings)
    producer = TradeProducer(settings)
    futures = [producer.send(topic, value=t.to_message(), key=t.kafka_key()) for t in map(trade, range(n))]
    for f in futures:
        f.result(30)
    producer.close()

    runtime = ConsumerRuntime(settings, open_writer(settings, "sql"))
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    persisted = lambda: runtime.metrics.value("tradestore_persisted_total")  # noqa: E731
    deadline = time.monotonic() + 300
    while runtime.metrics.value("tradestore_consumed_total") == 0 and time.monotonic() < deadline:
        time.sleep(0.005)  # polling: the first batch marks the end of the group join
    started, at_start = time.perf_counter(), persisted()
    while persisted() < n and time.monotonic() < deadline:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    done = persisted()
    runtime.stop()
    thread.join(30)
    if done < n:
        raise RuntimeError(f"only {done:.0f} of {n} trades persisted before the deadline")
    return (n - at_start) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="CONSUMER_BATCH_SIZE and raw batch size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sql-") as tmp:
        work = Path(tmp)
        broker = EmbeddedBroker("127.0.0.1", free_port(), work / "kafka")
        postgres = EmbeddedPostgres("127.0.0.1", free_port(), work / "postgres")
        broker.start()
        postgres.start()
        try:

            def pg_db() -> str:
                name = f"b_{uuid.uuid4().hex[:12]}"
                with psycopg.connect(postgres.url.replace("+psycopg", ""), autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')  # a generated name
                return postgres.url_for(name)

            backends = {
                "sqlite": lambda: f"sqlite:///{work / uuid.uuid4().hex}.db",
                "postgresql": pg_db,
            }
            print(f"{args.trades} trades, batch {args.batch}; PostgreSQL runs with fsync=off (embedded)")
            print(f"{'backend':<12}{'raw rows/s':>12}{'sink rows/s':>13}{'ratio':>8}")
            for name, new_url in backends.items():
                raw_rows = raw.sql_raw_rate(new_url(), args.trades, args.batch)
                sink = sink_rate(broker.bootstrap, new_url(), args.trades, args.batch)
                verdict = "ok" if sink / raw_rows >= 0.7 else "below the 70% target"
                print(f"{name:<12}{raw_rows:>12,.0f}{sink:>13,.0f}{sink / raw_rows:>8.0%}  {verdict}")
        finally:
            postgres.remove()
            broker.stop()


if __name__ == "__main__":
    main()
