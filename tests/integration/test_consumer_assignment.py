"""Two consumers of one group on a one-partition topic (real broker): the member without the partition
is not ready, the holder reports its lag per partition, and the other takes over when the holder leaves."""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, Producer

from fixtures.consumers import numbered_trade, running_runtime
from fixtures.fake_store import FakeStore
from fixtures.kafka import create_topic
from fixtures.mongo import wait_until
from shared.consumer import ConsumerRuntime
from shared.schema import TradePayload
from shared.settings import Settings

RECORDS = 20


def settings(bootstrap: str, topic: str, group: str) -> Settings:
    """Dynamic membership (no instance id): a member that closes leaves the group at once."""
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "trades_topic": topic,
        "trades_dlq_topic": f"{topic}.dlq",
        "consumer_group": group,
        "consumer_batch_timeout_ms": 50,
        "tradestore_env": "test",
    }
    return Settings(**values)


def publish(bootstrap: str, topic: str, start: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(start, start + count):
        payload = TradePayload.model_validate(numbered_trade(i))
        producer.produce(topic, payload.model_dump_json().encode(), payload.kafka_key())
    assert producer.flush(10) == 0


def lag_samples(runtime: ConsumerRuntime, topic: str) -> float | None:
    labels = {"sink": "fake", "topic": topic, "partition": "0"}
    return runtime.metrics.registry.get_sample_value("tradestore_consumer_lag", labels)


def test_only_the_member_holding_a_partition_is_ready_and_the_other_takes_over(kafka_bootstrap: str) -> None:
    topic = create_topic(kafka_bootstrap, f"assign-{uuid.uuid4().hex[:8]}", partitions=1)
    config = settings(kafka_bootstrap, topic, f"assign-{uuid.uuid4().hex[:8]}")
    publish(kafka_bootstrap, topic, 0, RECORDS)
    first_store, second_store = FakeStore(), FakeStore()
    with running_runtime(config, second_store) as second:
        with running_runtime(config, first_store) as first:
            wait_until(lambda: first.ready() != second.ready(), timeout_s=60)  # one holder, one idle
            holder, idle = (first, second) if first.ready() else (second, first)
            held_by_first = holder is first
            assert not idle.assignment.assigned
            wait_until(lambda: len(first_store.rows) + len(second_store.rows) == RECORDS)
            wait_until(lambda: lag_samples(holder, topic) == 0)
            assert lag_samples(idle, topic) is None
        # the first member closed (and left the group): if it held the partition, the second gets it
        wait_until(second.ready, timeout_s=60)
        assert second.assignment.held == {(topic, 0)}
        publish(kafka_bootstrap, topic, RECORDS, 5)
        wait_until(lambda: len(second_store.rows) == (5 if held_by_first else RECORDS + 5))


def assignment_changes(runtime: ConsumerRuntime) -> float:
    value = runtime.metrics.registry.get_sample_value("tradestore_assignment_changes_total", {"sink": "fake"})
    return value or 0.0


def rebalanced(other: Consumer, runtime: ConsumerRuntime, before: float) -> bool:
    """Serve the other member's group protocol; true once the runtime was revoked and assigned again."""
    other.poll(0.1)
    return assignment_changes(runtime) >= before + 2


def test_partitions_paused_during_a_store_outage_read_again_after_a_rebalance(kafka_bootstrap: str) -> None:
    """Issue 16's silent stall: the store goes down (the runtime pauses its partitions and retries), a
    member joins and leaves (two rebalances), the store comes back: every record must be written.

    librdkafka keeps an application pause across revoke and re-assignment; before the fix the runtime
    resumed only what it held after the revocation (nothing), so it held the partition, reported ready,
    and never fetched again."""
    topic = create_topic(kafka_bootstrap, f"pause-{uuid.uuid4().hex[:8]}", partitions=1)
    group = f"pause-{uuid.uuid4().hex[:8]}"
    config = settings(kafka_bootstrap, topic, group).model_copy(
        update={"consumer_retry_initial_s": 0.05, "consumer_retry_max_s": 0.2}
    )
    store = FakeStore()
    with running_runtime(config, store) as runtime:
        wait_until(runtime.ready, timeout_s=60)
        publish(kafka_bootstrap, topic, 0, 5)
        wait_until(lambda: len(store.rows) == 5)
        store.down = True
        publish(kafka_bootstrap, topic, 5, 5)
        wait_until(lambda: runtime.metrics.value("tradestore_retries_total") > 0)
        before = assignment_changes(runtime)
        other = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group, "enable.auto.commit": 0})
        try:
            other.subscribe([topic])
            wait_until(lambda: rebalanced(other, runtime, before), timeout_s=60)
        finally:
            other.close()  # a dynamic member leaves at once: the runtime gets the partition back
        wait_until(lambda: runtime.assignment.held == {(topic, 0)}, timeout_s=60)
        store.down = False
        wait_until(lambda: len(store.rows) == 10, timeout_s=30)


class PausingStore(FakeStore):
    """Pauses or resumes the runtime's partitions from its idle ping, i.e. on the runtime's own thread (a
    librdkafka consumer is not to be driven from two threads)."""

    def __init__(self) -> None:
        super().__init__()
        self.runtime: ConsumerRuntime | None = None
        self.request: str | None = None  # "pause" or "resume"

    def ping(self) -> None:
        super().ping()
        if self.request is not None and self.runtime is not None:
            consumer: Any = self.runtime._consumer
            parts = consumer.assignment()
            (consumer.pause if self.request == "pause" else consumer.resume)(parts)
            self.request = None


def test_a_consumer_holding_a_partition_with_records_waiting_that_fetches_nothing_is_reported_stalled(
    kafka_bootstrap: str,
) -> None:
    """Whatever stops the fetcher (here the partition paused behind the runtime's back), records waiting
    with nothing fetched for CONSUMER_STALL_S show: WARNING, tradestore_consumer_stalled 1, /ready false;
    fetching again clears it. The positions and watermarks are the real broker's answers."""
    topic = create_topic(kafka_bootstrap, f"stall-{uuid.uuid4().hex[:8]}", partitions=1)
    config = settings(kafka_bootstrap, topic, f"stall-{uuid.uuid4().hex[:8]}").model_copy(
        update={"consumer_stall_s": 1.5}
    )
    store = PausingStore()
    with running_runtime(config, store) as runtime:
        store.runtime = runtime
        wait_until(runtime.ready, timeout_s=60)
        publish(kafka_bootstrap, topic, 0, 3)
        wait_until(lambda: len(store.rows) == 3)
        store.request = "pause"
        wait_until(lambda: store.request is None)
        publish(kafka_bootstrap, topic, 3, 5)
        wait_until(lambda: runtime.stall.stalled, timeout_s=60)
        assert not runtime.ready()
        assert runtime.metrics.value("tradestore_consumer_stalled") == 1
        assert len(store.rows) == 3
        store.request = "resume"
        wait_until(lambda: len(store.rows) == 8, timeout_s=30)
        wait_until(runtime.ready)
        assert not runtime.stall.stalled
        assert runtime.metrics.value("tradestore_consumer_stalled") == 0
