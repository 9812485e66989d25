"""A backlog of N records drained by one sink, its memory printed as it goes (issue 14, goal 4).

    python bench/backlog.py --n 1000000 --sink sql      # SQLite; --sink mongo for nx-27017

Starts Tansu, the store and `tradestore consume SINK` (a process), produces N unique trades first, then
prints, every `--every` stored trades: how many, seconds since the consumer joined, the rate, and the
consumer's resident set (VmRSS, MiB) and its peak so far (VmHWM). Flat RSS = memory does not grow with
the backlog. A program that prints figures; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from confluent_kafka import Producer

from shared.kafka import partition_for, producer_config
from shared.settings import Settings
from tradestore_tools.bench.stack import BenchStack, bench_stack
from tradestore_tools.bench.stores import MongoStore, SqlStore
from tradestore_tools.bench.trades import trade


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of `pid` in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def produce(settings: Settings, topic: str, n: int, prefix: str) -> float:
    import orjson

    producer = Producer(producer_config(settings))
    started = time.perf_counter()
    for i in range(n):
        item = trade(prefix, i)
        key = f"{item['trade_id']}:1:{item['book_id']}".encode()
        while True:
            try:
                producer.produce(topic, orjson.dumps(item), key, partition=partition_for(item["trade_id"], 4))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("records left unacknowledged")
    return time.perf_counter() - started


def drain(stack: BenchStack, n: int, sink: str, every: int, batch: int) -> None:
    topic = stack.topic("backlog")
    settings = stack.settings(topic, consumer_batch_size=batch, mongo_db=f"backlog_{int(time.time())}")
    print(f"producing {n:,} trades to {topic}", flush=True)
    print(f"produced in {produce(settings, topic, n, f'BL{time.time_ns()}'):.1f}s", flush=True)
    store_settings = stack.settings(
        topic, mongo_url=stack.mongo_url, sql_url=stack.sql_url, mongo_db=settings.mongo_db
    )
    store = MongoStore(store_settings) if sink == "mongo" else SqlStore(store_settings)
    consumer = stack.consumer(sink, settings)
    pid = consumer.proc.pid if consumer.proc else 0
    joined = time.perf_counter()
    mark = every
    print(f"{'stored':>10} {'seconds':>8} {'trades/s':>9} {'RSS MiB':>8} {'peak MiB':>9}", flush=True)
    while mark <= n:
        count = store.count()
        if count >= mark:
            elapsed = time.perf_counter() - joined
            rss, peak = rss_mb(pid)
            rate = count / elapsed
            print(f"{count:>10,} {elapsed:>8.1f} {rate:>9,.0f} {rss:>8.1f} {peak:>9.1f}", flush=True)
            mark = (count // every + 1) * every
        else:
            time.sleep(1.0)
    stack.stop(consumer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sink", choices=("sql", "mongo"), default="sql")
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_stack(Path(tmp)) as stack:
        stack.start_stores(postgres=False)
        drain(stack, args.n, args.sink, args.every, args.batch)


if __name__ == "__main__":
    main()
