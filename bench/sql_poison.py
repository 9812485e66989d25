"""Benchmark: isolating one poison record in a batch, on SQLite and PostgreSQL (issue 13, item 3).

A trigger refuses one trade_id (as a CHECK, truncation or conversion error would on SQL Server).
Two measurements per backend, each a batch of --trades records with the culprit in the middle:
- store: shared.consumer.isolation.write_isolating over SqlStore (the split the runtime does), timed;
- runtime: ConsumerRuntime draining a topic holding the batch, timed from its first poll until every
  record is either stored or dead-lettered; records stored and dead-lettered (reason) are counted.

    .venv/bin/python bench/sql_poison.py [--trades 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa

from shared.consumer import ConsumerRuntime
from shared.consumer.isolation import write_isolating
from shared.kafka import TradeProducer, ensure_topics
from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores import open_writer
from shared.stores.sql import SqlStore
from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.postgres import EmbeddedPostgres
from tradestore.local.process import free_port

CULPRIT = "POISON"
TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER refuse_poison BEFORE INSERT ON trades WHEN NEW.trade_id = '{CULPRIT}' "
        "BEGIN SELECT RAISE(ABORT, 'trade refused by a rule'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.trade_id = '{CULPRIT}' THEN RAISE EXCEPTION 'trade refused by a rule'; "
        "END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON trades "
        "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ],
}


def trades(n: int) -> list[TradePayload]:
    ids = [CULPRIT if i == n // 2 else f"OK-{i:06d}" for i in range(n)]
    return [TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": t}) for t in ids]


def poisoned_store(settings: Settings) -> SqlStore:
    store = SqlStore.from_settings(settings)
    store.setup()
    with store.engine.begin() as conn:
        for ddl in TRIGGERS[store.dialect]:
            conn.execute(sa.text(ddl))
    return store


def store_isolation(settings: Settings, n: int) -> str:
    store = poisoned_store(settings)
    writes: list[int] = []
    real = store.write
    store.write = lambda records: writes.append(len(records)) or real(records)  # type: ignore[method-assign,func-returns-value]
    now = datetime.now(UTC)
    records = [StoredTrade(t, 0, i, now) for i, t in enumerate(trades(n))]
    started = time.perf_counter()
    result = write_isolating(store, records)
    elapsed = time.perf_counter() - started
    count = store.count()
    store.close()
    return f"stored {count}, refused {len(result.refused)}, {len(writes)} writes, {elapsed * 1000:,.0f} ms"


def runtime_isolation(bootstrap: str, url: str, n: int) -> str:
    topic = f"poison-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        trades_topic=topic,
        trades_dlq_topic=f"{topic}-dlq",
        trades_topic_partitions=1,
        sql_url=url,  # type: ignore[arg-type]  # pydantic turns str into SecretStr
        consumer_group=f"poison-{uuid.uuid4().hex[:8]}",
        consumer_batch_size=n,
        consumer_batch_timeout_ms=500,
        tradestore_env="test",
    )
    poisoned_store(settings).close()
    ensure_topics(settings)
    producer = TradeProducer(settings)
    for f in [producer.send(topic, value=t.to_message(), key=t.kafka_key()) for t in trades(n)]:
        f.result(30)
    producer.close()
    runtime = ConsumerRuntime(settings, open_writer(settings, "sql"))
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    value = runtime.metrics.value
    dead = lambda: value("tradestore_dead_letters_total", sink="sql", reason="store_rejected")  # noqa: E731
    deadline = time.monotonic() + 300
    while value("tradestore_consumed_total") == 0 and time.monotonic() < deadline:
        time.sleep(0.002)  # polling: the first poll marks the end of the group join
    started = time.perf_counter()
    while value("tradestore_persisted_total") + dead() < n and time.monotonic() < deadline:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    stored, dlq = value("tradestore_persisted_total"), dead()
    runtime.stop()
    thread.join(30)
    took = f"{elapsed * 1000:,.0f} ms from the first poll"
    return f"stored {stored:.0f}, dead-lettered {dlq:.0f} (store_rejected), {took}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trades", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-poison-") as tmp:
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

            backends = {"sqlite": lambda: f"sqlite:///{work / uuid.uuid4().hex}.db", "postgresql": pg_db}
            print(f"one culprit in the middle of a batch of {args.trades}")
            for name, new_url in backends.items():
                print(f"{name:<11} store:   {store_isolation(Settings(sql_url=new_url()), args.trades)}")  # type: ignore[arg-type]
                print(f"{name:<11} runtime: {runtime_isolation(broker.bootstrap, new_url(), args.trades)}")
        finally:
            postgres.remove()
            broker.stop()


if __name__ == "__main__":
    main()
