"""A consumer holding partitions with records waiting that fetches nothing for CONSUMER_STALL_S is visible:
one WARNING, tradestore_consumer_stalled{sink} = 1, /ready false; an idle consumer with nothing to read is
never reported."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import CollectorRegistry

from shared.consumer.stall import StallWatch, records_waiting

HELD = {("trades", 0), ("trades", 1)}


class Broker:
    """The consumer calls the watch makes: fetch positions, committed offsets, fresh watermarks."""

    def __init__(self, positions: dict[int, int], high: dict[int, int], committed: dict[int, int]) -> None:
        self.positions, self.high, self.commits = positions, high, committed
        self.cached: list[bool] = []
        self.down = False

    def position(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        if self.down:
            raise KafkaException("broker down")
        return [TopicPartition(tp.topic, tp.partition, self.positions.get(tp.partition, -1001)) for tp in tps]

    def committed(self, tps: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self.commits.get(tp.partition, -1001)) for tp in tps]

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float, cached: bool) -> tuple[int, int]:
        self.cached.append(cached)
        return (2, self.high[tp.partition])


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def watch(bound_s: float = 30.0) -> tuple[StallWatch, Clock, CollectorRegistry]:
    clock, registry = Clock(), CollectorRegistry()
    return StallWatch("mongo", registry, clock, bound_s), clock, registry


def stalled_gauge(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("tradestore_consumer_stalled", {"sink": "mongo"})


def test_records_waiting_uses_the_position_then_the_committed_offset_then_the_low_watermark() -> None:
    broker = Broker(positions={0: 5}, high={0: 9, 1: 7}, committed={1: 7})
    assert records_waiting(broker, HELD) == {0: (5, 9)}
    assert broker.cached == [
        False,
        False,
    ]  # the broker's answer, not a value a stalled fetcher stopped updating
    broker = Broker(positions={}, high={0: 9, 1: 2}, committed={})
    assert records_waiting(broker, HELD) == {0: (2, 9)}


def test_a_broker_error_gives_no_verdict() -> None:
    broker = Broker(positions={0: 0}, high={0: 9, 1: 9}, committed={})
    broker.down = True
    assert records_waiting(broker, HELD) == {}


def test_records_waiting_longer_than_the_bound_without_a_fetch_is_a_stall(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stall, clock, registry = watch(bound_s=30.0)
    broker = Broker(positions={0: 5, 1: 7}, high={0: 9, 1: 7}, committed={})
    caplog.set_level(logging.INFO, "shared.consumer")
    for _ in range(6):  # waiting seen at t=5 .. t=30: 25 s, not yet the bound
        clock.t += 5.0
        stall.check(broker, HELD)
    assert not stall.stalled
    assert stalled_gauge(registry) == 0
    clock.t += 5.0
    stall.check(broker, HELD)  # t=35: waiting since t=5 for 30 s
    assert stall.stalled
    assert stalled_gauge(registry) == 1
    assert registry.get_sample_value("tradestore_consumer_stalls_total", {"sink": "mongo"}) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "mongo holds partitions [0, 1] but fetched nothing for 30s while 4 record(s) wait: "
        "partition: (position, high watermark) {0: (5, 9)}"
    ]
    clock.t += 5.0
    stall.check(broker, HELD)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1  # once per episode
    stall.fetched()
    assert not stall.stalled
    assert stalled_gauge(registry) == 0
    assert "mongo fetching again after a stall" in caplog.messages


def test_a_fetch_in_between_restarts_the_clock() -> None:
    stall, clock, _ = watch(bound_s=30.0)
    broker = Broker(positions={0: 5}, high={0: 9, 1: 0}, committed={1: 0})
    for _ in range(20):
        clock.t += 5.0
        stall.check(broker, HELD)
        if clock.t % 20 == 0:
            stall.fetched()  # records keep arriving: a busy consumer behind is not stalled
    assert not stall.stalled


def test_an_idle_consumer_with_nothing_to_read_is_never_stalled() -> None:
    stall, clock, registry = watch(bound_s=30.0)
    broker = Broker(positions={0: 9, 1: 7}, high={0: 9, 1: 7}, committed={})
    for _ in range(100):
        clock.t += 5.0
        stall.check(broker, HELD)
    assert not stall.stalled
    assert stalled_gauge(registry) == 0


def test_checks_are_rate_limited_and_the_bound_zero_disables_them() -> None:
    stall, clock, _ = watch(bound_s=30.0)
    broker = Broker(positions={0: 0}, high={0: 9, 1: 9}, committed={})
    for _ in range(10):
        clock.t += 0.1
        stall.check(broker, HELD)
    assert broker.cached == []  # no broker request before every_s (5 s) passed
    off, off_clock, _ = watch(bound_s=0.0)
    off_clock.t += 1000.0
    off.check(broker, HELD)
    assert broker.cached == []
    assert not off.stalled


def test_no_partitions_held_is_not_a_stall() -> None:
    stall, clock, _ = watch(bound_s=30.0)
    broker = Broker(positions={}, high={}, committed={})
    for _ in range(20):
        clock.t += 5.0
        stall.check(broker, set())
    assert not stall.stalled
