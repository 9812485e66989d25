"""The raw producer ceiling: what confluent-kafka alone produces to the broker (the API's producer config)."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Producer

from shared.kafka import producer_config
from shared.settings import Settings
from tradestore_tools.bench.trades import records


def produce(
    settings: Settings, topic: str, count: int, prefix: str, partitions: int = 4, warm_up: bool = False
) -> float:
    """Produce `count` pre-serialised trades and wait for every acknowledgement; returns seconds taken."""
    producer = Producer(producer_config(settings))
    prepared = list(records(prefix, count, partitions))
    failed: list[Any] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(err)

    if warm_up:  # connect and get the producer id before timing (a record the sinks never read)
        producer.produce(topic, b"{}", b"warm-up", partition=0)
        producer.flush(30)
    started = time.perf_counter()
    for partition, key, value in prepared:
        while True:
            try:
                producer.produce(topic, value, key, partition=partition, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    remaining = producer.flush(60)
    elapsed = time.perf_counter() - started
    if remaining or failed:
        raise RuntimeError(f"raw producer: {remaining} unflushed, {len(failed)} failed ({failed[:1]})")
    return elapsed


def raw_ceiling(settings: Settings, topic: str, count: int) -> dict[str, float]:
    """trades/s of the bare producer (same broker, same producer settings as the API)."""
    elapsed = produce(settings, topic, count, f"RAW{time.time_ns()}", warm_up=True)
    return {"trades": count, "seconds": elapsed, "trades_per_s": count / elapsed}
