"""What a consumer holds: per-partition lag gauge, assignment changes, and readiness without partitions."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from prometheus_client import CollectorRegistry
from tests.unit.consumers.test_runtime import make, msg

from shared.consumer.assignment import Assignment


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Marks:
    """High watermarks per partition as the consumer's fetches last saw them (-1: none yet)."""

    def __init__(self, high: dict[int, int]) -> None:
        self.high = high
        self.cached: list[bool] = []

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = 1.0, cached: bool = False
    ) -> tuple[int, int] | None:
        self.cached.append(cached)
        if partition.partition not in self.high:
            raise KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION))
        return (0, self.high[partition.partition])


def lag_of(registry: CollectorRegistry, partition: int) -> float | None:
    labels = {"sink": "mongo", "topic": "trades", "partition": str(partition)}
    return registry.get_sample_value("tradestore_consumer_lag", labels)


def held_tracker() -> tuple[Assignment, CollectorRegistry, Clock]:
    registry, clock = CollectorRegistry(), Clock()
    tracker = Assignment("mongo", registry, clock)
    tracker.assign([("trades", 0), ("trades", 1), ("trades", 2)])
    return tracker, registry, clock


def test_lag_gauge_per_partition_from_own_position_and_the_cached_watermark() -> None:
    tracker, registry, _ = held_tracker()
    marks = Marks({0: 10, 1: 7, 2: 5})
    total = tracker.update_lag(marks, {("trades", 0): 4, ("trades", 1): 7})
    assert (lag_of(registry, 0), lag_of(registry, 1), lag_of(registry, 2)) == (6, 0, None)
    assert total == 6
    assert marks.cached
    assert all(marks.cached)  # no extra broker round trip per batch
    marks.high[0] = 12
    assert tracker.update_lag(marks, {("trades", 2): 1}) == 8 + 0 + 4  # every held partition refreshed


def test_a_watermark_behind_the_position_reads_zero_never_negative() -> None:
    tracker, registry, _ = held_tracker()
    tracker.update_lag(Marks({0: 9}), {("trades", 0): 10})  # Tansu: the watermark lags one record
    assert lag_of(registry, 0) == 0


def test_unknown_watermarks_and_partitions_not_held_leave_no_sample() -> None:
    tracker, registry, _ = held_tracker()
    tracker.update_lag(Marks({0: -1}), {("trades", 0): 3, ("trades", 1): 3, ("trades", 9): 1})
    assert lag_of(registry, 0) is None  # -1: nothing fetched yet
    assert lag_of(registry, 1) is None  # the broker did not answer
    assert lag_of(registry, 9) is None  # not ours


def test_revoked_partitions_drop_their_lag_and_count_as_changes() -> None:
    tracker, registry, clock = held_tracker()
    tracker.update_lag(Marks({0: 5, 1: 5}), {("trades", 0): 1, ("trades", 1): 2})
    tracker.revoke([("trades", 1)])
    assert lag_of(registry, 1) is None
    assert lag_of(registry, 0) == 4
    assert registry.get_sample_value("tradestore_assigned_partitions", {"sink": "mongo"}) == 2
    assert tracker.unassigned_for() == 0
    tracker.revoke([("trades", 0), ("trades", 2)])
    assert not tracker.assigned
    clock.t += 7.5
    assert tracker.unassigned_for() == 7.5
    tracker.assign([("trades", 3)])  # eager protocol: the new assignment replaces the old one
    assert tracker.held == {("trades", 3)}
    assert tracker.unassigned_for() == 0
    assert registry.get_sample_value("tradestore_assignment_changes_total", {"sink": "mongo"}) == 4


def test_a_new_assignment_drops_the_lag_of_partitions_it_no_longer_holds() -> None:
    tracker, registry, _ = held_tracker()
    tracker.update_lag(Marks({0: 5, 2: 5}), {("trades", 0): 1, ("trades", 2): 1})
    tracker.assign([("trades", 2)])
    assert lag_of(registry, 0) is None
    assert lag_of(registry, 2) == 4


def test_runtime_exports_lag_per_partition_after_a_batch() -> None:
    runtime, _consumer, _, _ = make([[msg(0), msg(3, partition=1, trade_id="T-2")]])
    runtime.run()
    sample = runtime.metrics.registry.get_sample_value
    assert sample("tradestore_consumer_lag", {"sink": "fake", "topic": "trades", "partition": "0"}) == 9
    assert sample("tradestore_consumer_lag", {"sink": "fake", "topic": "trades", "partition": "1"}) == 6


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - a local probe
            return int(resp.status)
    except urllib.error.HTTPError as err:
        err.close()
        return err.code


@pytest.mark.parametrize("path", ["/ready", "/ready?assigned=1"])
def test_a_consumer_without_partitions_is_not_ready(path: str) -> None:
    runtime, consumer, _, _ = make()
    runtime.run()
    runtime._stop.clear()
    port = runtime.start_probe("127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{port}{path}"
        assert runtime.ready()
        assert status(url) == 200
        consumer.on_revoke(consumer, [TopicPartition("trades", 0), TopicPartition("trades", 1)])
        assert not runtime.ready()
        assert status(url) == 503
        consumer.on_assign(consumer, [TopicPartition("trades", 1)])
        assert status(url) == 200
    finally:
        assert runtime._probe is not None
        runtime._probe.stop()


def test_cooperative_assignments_add_to_what_is_held() -> None:
    tracker = Assignment("mongo", CollectorRegistry(), Clock(), incremental=True)
    tracker.assign([("trades", 0)])
    tracker.assign([("trades", 4)])
    assert tracker.held == {("trades", 0), ("trades", 4)}
    tracker.revoke([("trades", 0)])
    assert tracker.held == {("trades", 4)}


def test_the_assignment_strategy_setting_reaches_librdkafka_and_the_runtime() -> None:
    from tests.unit.consumers.test_runtime import FakeSink

    from shared.consumer import ConsumerRuntime, consumer_config
    from shared.settings import Settings

    assert "partition.assignment.strategy" not in consumer_config(Settings(), "mongo")
    coop = Settings(consumer_assignment_strategy="cooperative-sticky")
    assert consumer_config(coop, "mongo")["partition.assignment.strategy"] == "cooperative-sticky"
    assert ConsumerRuntime(coop, FakeSink()).assignment.incremental
    assert not ConsumerRuntime(Settings(), FakeSink()).assignment.incremental
