"""Benchmark: the MongoDB sink draining a pre-filled topic vs raw bulk_write on the same server.

The raw figure issues the same write operations the sink issues for fresh trades (first heads inserted,
then upserts on `_id`; see shared.stores.mongo_writes), straight to the server, same batch size; plain
inserts of the documents alone (the raw figure before the version guard) are printed as a fixed yardstick.
During the drain it prints the CPU seconds of nx-27017, of the broker and of this process. The rate of
upserts filtered on the business key is printed too, for reference: nx-27017's upserts on anything but
`_id` slow down as the collection grows.

Starts its own Tansu broker and nx-27017 (tradestore.local), prints both rates and their ratio
(target >= 70%). A program, not a test: figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
import uuid
from pathlib import Path

from shared.consumer import ConsumerRuntime
from shared.kafka import TradeProducer, ensure_topics
from shared.settings import Settings
from shared.stores import open_writer
from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.mongo import EmbeddedMongo
from tradestore.local.process import free_port
from tradestore_tools.bench.cpu import cpu_s
from tradestore_tools.bench.raw import mongo_docs_rate as docs_rate
from tradestore_tools.bench.raw import mongo_raw_rate as raw_rate
from tradestore_tools.bench.raw import trade


def fill_topic(settings: Settings, n: int) -> None:
    producer = TradeProducer(settings)
    futures = []
    for i in range(n):
        t = trade(i)
        futures.append(producer.send(settings.trades_topic, value=t.to_message(), key=t.kafka_key()))
    for f in futures:
        f.result(60)
    producer.close()


def sink_rate(settings: Settings, n: int, server_pid: int = 0, broker_pid: int = 0) -> tuple[float, float]:
    """Persisted trades/s through the runtime, timed from the first persisted batch to the last."""
    runtime = ConsumerRuntime(settings, open_writer(settings, "mongo"))
    thread = threading.Thread(target=runtime.run, daemon=True)
    t_start = time.perf_counter()
    thread.start()

    def persisted() -> float:
        return runtime.metrics.value("tradestore_persisted_total")

    while persisted() == 0:
        time.sleep(0.01)
    t_first, first = time.perf_counter(), persisted()
    s0, c0 = cpu_s(server_pid) if server_pid else 0.0, time.process_time()
    b0 = cpu_s(broker_pid) if broker_pid else 0.0
    while persisted() < n:
        time.sleep(0.01)
    t_end = time.perf_counter()
    if server_pid:
        wall, server, client = t_end - t_first, cpu_s(server_pid) - s0, time.process_time() - c0
        broker = cpu_s(broker_pid) - b0 if broker_pid else 0.0
        print(
            f"drain {wall:.2f}s: nx-27017 CPU {server:.2f}s ({server / wall:.0%}), broker CPU {broker:.2f}s"
            f" ({broker / wall:.0%}), consumer process CPU {client:.2f}s ({client / wall:.0%})"
        )
    runtime.stop()
    thread.join(30)
    return (n - first) / (t_end - t_first), t_first - t_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="trades in the topic")
    parser.add_argument("--batch", type=int, default=500, help="CONSUMER_BATCH_SIZE and bulk_write size")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker("127.0.0.1", free_port(), Path(tmp) / "kafka")
        mongo = EmbeddedMongo("127.0.0.1", free_port(), Path(tmp) / "mongo")
        broker.start()
        mongo.start()
        try:
            settings = Settings(
                kafka_bootstrap_servers=broker.bootstrap,
                trades_topic=f"bench-{uuid.uuid4().hex[:8]}",
                trades_dlq_topic=f"bench-dlq-{uuid.uuid4().hex[:8]}",
                mongo_url=mongo.url,
                mongo_db="bench_sink",
                consumer_batch_size=args.batch,
                tradestore_env="test",
            )
            ensure_topics(settings)
            t0 = time.perf_counter()
            fill_topic(settings, args.n)
            print(f"filled topic with {args.n} trades in {time.perf_counter() - t0:.1f}s")
            raw = raw_rate(mongo.url, args.n, args.batch)
            print(f"raw bulk_write, the sink's write mix (batch {args.batch}): {raw:,.0f} docs/s")
            docs = docs_rate(mongo.url, args.n, args.batch)
            print(f"raw bulk inserts of the documents alone (25dce28's raw figure): {docs:,.0f} docs/s")
            upserts_n = min(args.n, 2000)
            upsert_raw = raw_rate(mongo.url, upserts_n, args.batch, upsert_only=True)
            print(f"raw upserts on the key ({upserts_n} docs, for reference): {upsert_raw:,.0f} docs/s")
            pids = [p.proc.pid if p.proc else 0 for p in (mongo, broker)]
            sink, join_s = sink_rate(settings, args.n, *pids)
            print(f"sink through the runtime: {sink:,.0f} trades/s (group join + first batch {join_s:.1f}s)")
            print(f"ratio sink/raw: {sink / raw:.0%} (target >= 70%)")
        finally:
            mongo.stop()
            broker.stop()


if __name__ == "__main__":
    main()
