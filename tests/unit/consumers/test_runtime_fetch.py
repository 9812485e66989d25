"""The runtime keeps fetching after a store outage that spans a rebalance (issue 16's silent stall).

The fake consumer models librdkafka's pause semantics: an application pause belongs to the partition and
survives its revocation and re-assignment (rdkafka_assignment.c resets only the library's own pause flag);
only resume() clears it, whether the partition is assigned or not. Before the fix the runtime resumed only
what it held once the retry ended: after a revocation that is nothing, so the partition came back paused
and the consumer held it, reported ready and read nothing, with no error.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, date, datetime
from typing import Any

from confluent_kafka import TopicPartition

from fixtures.fake_store import FakeStore
from shared.consumer import ConsumerRuntime
from shared.consumer.positions import pause, resume
from shared.consumer.retry import Backoff
from shared.kafka import Delivery
from shared.schema import SAMPLE_TRADE
from shared.settings import Settings

TOPIC = "trades"


class Record:
    """A polled confluent_kafka.Message, as far as the runtime reads it."""

    def __init__(self, partition: int, offset: int) -> None:
        trade = {**SAMPLE_TRADE, "trade_id": f"T-{partition}-{offset}"}
        self._p, self._o = partition, offset
        self._v = json.dumps(trade).encode()
        self._k = f"{trade['trade_id']}:{trade['version']}:{trade['book_id']}".encode()

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def key(self) -> bytes:
        return self._k

    def value(self) -> bytes:
        return self._v

    def error(self) -> None:
        return None

    def headers(self) -> None:
        return None


class PausingConsumer:
    """A group consumer over `log` (records per partition) with librdkafka's pause semantics; a rebalance
    is scripted: `revoke_on_wait` revokes everything during the runtime's retry wait, and the same
    partitions come back on the next consume() (an eager rebalance: revoke, then assign)."""

    def __init__(self, log: dict[int, int], clock: list[float]) -> None:
        self.log = log
        self.clock = clock
        self.assigned: set[int] = set()
        self.paused: set[int] = set()
        self.position: dict[int, int] = {}
        self.committed: dict[int, int] = {}
        self.pending: set[int] | None = None
        self.revoke_on_wait: Callable[[], None] | None = None
        self.runtime: ConsumerRuntime | None = None
        self.empty_polls = 0

    def subscribe(self, topics: list[str], on_assign: Any, on_revoke: Any) -> None:
        self.on_assign, self.on_revoke = on_assign, on_revoke
        self.pending = set(self.log)

    def _serve_rebalance(self) -> None:
        if self.pending is not None:
            parts, self.pending = self.pending, None
            self.on_assign(self, [TopicPartition(TOPIC, p) for p in sorted(parts)])  # before assign(), as in
            self.assigned = parts  # confluent_kafka: the callback sees the partitions not yet assigned
            self.position = {p: self.committed.get(p, 0) for p in parts}

    def consume(self, num_messages: int, timeout: float) -> list[Record]:
        self._serve_rebalance()
        batch: list[Record] = []
        for p in sorted(self.assigned - self.paused):
            while self.position[p] < self.log[p] and len(batch) < num_messages:
                batch.append(Record(p, self.position[p]))
                self.position[p] += 1
        self.clock[0] += timeout
        self.empty_polls = 0 if batch else self.empty_polls + 1
        if self.empty_polls >= 20 and self.runtime is not None:  # nothing more to read: end the run
            self.runtime.stop()
        return batch

    def poll(self, timeout: float) -> None:
        self.clock[0] += timeout
        if self.revoke_on_wait is not None:
            action, self.revoke_on_wait = self.revoke_on_wait, None
            action()

    def revoke_all(self) -> None:
        parts = sorted(self.assigned)
        self.on_revoke(self, [TopicPartition(TOPIC, p) for p in parts])
        self.assigned = set()  # confluent_kafka unassigns after the callback
        self.pending = set(parts)

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, p) for p in sorted(self.assigned)]

    def pause(self, parts: list[TopicPartition]) -> None:
        self.paused |= {tp.partition for tp in parts}

    def resume(self, parts: list[TopicPartition]) -> None:
        self.paused -= {tp.partition for tp in parts}  # assigned or not: librdkafka clears the flag

    def seek(self, tp: TopicPartition) -> None:
        self.position[tp.partition] = tp.offset

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        self.committed.update({tp.partition: tp.offset for tp in offsets})

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        return (0, self.log[tp.partition])

    def close(self) -> None:
        return None


class Producer:
    """The DLQ/outcomes producer: nothing is dead-lettered here; outcomes are acknowledged at once."""

    def send(self, topic: str, value: Any, key: Any, headers: Any = None) -> Future[Delivery]:
        future: Future[Delivery] = Future()
        future.set_result(Delivery(topic, 0, 0))
        return future


class StartedStore(FakeStore):
    """Set up already (the outage starts after the runtime subscribed)."""

    def setup(self) -> None:
        return None


def runtime_over(consumer: PausingConsumer, store: FakeStore, clock: list[float]) -> ConsumerRuntime:
    settings = Settings(consumer_retry_initial_s=0.2, consumer_retry_max_s=1.0, trades_dlq_topic="dlq")
    runtime = ConsumerRuntime(
        settings,
        store,
        consumer=consumer,
        dlq_producer=Producer(),
        today=lambda: date(2025, 10, 1),
        now=lambda: datetime(2025, 10, 1, tzinfo=UTC),
        clock=lambda: clock[0],
        backoff=Backoff(0.2, 1.0, random.Random(1)),
    )
    consumer.runtime = runtime
    return runtime


def test_a_store_outage_spanning_a_rebalance_leaves_no_partition_paused() -> None:
    clock = [0.0]
    consumer = PausingConsumer({0: 3, 1: 2}, clock)
    store = StartedStore()
    store.down = True  # the first batch meets the outage: the runtime pauses both partitions and waits

    def rebalance_while_paused() -> None:
        assert consumer.paused == {0, 1}
        consumer.revoke_all()  # the batch is abandoned; the same partitions come back next
        store.down = False

    consumer.revoke_on_wait = rebalance_while_paused
    runtime = runtime_over(consumer, store, clock)
    assert runtime.run() == 0
    assert consumer.assigned == {0, 1}
    assert consumer.paused == set()
    assert {k[0] for k in store.rows} == {"T-0-0", "T-0-1", "T-0-2", "T-1-0", "T-1-1"}
    assert consumer.committed == {0: 3, 1: 2}


def test_resume_clears_the_pause_of_partitions_no_longer_assigned() -> None:
    consumer = PausingConsumer({0: 1, 1: 1}, [0.0])
    consumer.assigned = {0, 1}
    paused = pause(consumer)
    assert consumer.paused == {0, 1}
    consumer.assigned = set()  # revoked while paused
    resume(consumer, paused)
    assert consumer.paused == set()


def test_an_assignment_resumes_its_partitions() -> None:
    clock = [0.0]
    consumer = PausingConsumer({0: 1, 1: 1}, clock)
    runtime = runtime_over(consumer, FakeStore(), clock)
    consumer.paused = {0, 1}  # left paused by anything: an application pause survives re-assignment
    runtime._on_assign(consumer, [TopicPartition(TOPIC, 0)])
    assert consumer.paused == {1}
    assert runtime.assignment.held == {(TOPIC, 0)}
