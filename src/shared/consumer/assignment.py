"""What a consumer holds: its assigned partitions, their lag, and how often its assignment changed.

Per-partition lag is the consumer's own position (one past the last record it wrote and stored) against
the high watermark its fetches brought back (librdkafka's cached value: no extra broker request). A
partition's gauge is dropped when the partition is revoked, so a scrape never shows lag a member no
longer owns. Lag is never negative: Tansu, the embedded broker, can report a high watermark one record
short of what is readable (docs/operations.md), so on Tansu a lag of 0 means "at most a record behind".

Readiness uses `assigned`: a consumer without partitions persists nothing, so it is not ready.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger("shared.consumer")
Partition = tuple[str, int]


class Watermarks(Protocol):
    """The part of a confluent_kafka.Consumer the lag needs."""

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = ..., cached: bool = ...
    ) -> tuple[int, int] | None: ...


class Assignment:
    """The partitions a runtime holds (on_assign/on_revoke) and their lag, exported to its registry."""

    def __init__(
        self, sink: str, registry: CollectorRegistry, clock: Callable[[], float], incremental: bool = False
    ) -> None:
        self.sink = sink
        self.incremental = incremental  # cooperative protocol: on_assign brings additions only
        self.clock = clock
        self.held: set[Partition] = set()
        self.positions: dict[Partition, int] = {}
        self.unassigned_since: float | None = clock()
        self._lag = Gauge(
            "tradestore_consumer_lag",
            "Records behind the high watermark, per partition this consumer holds (>= 0)",
            ["sink", "topic", "partition"],
            registry=registry,
        )
        self._held = Gauge(
            "tradestore_assigned_partitions", "Partitions this consumer holds", ["sink"], registry=registry
        ).labels(sink)
        self._changes = Counter(
            "tradestore_assignment_changes",
            "Assignments and revocations received",
            ["sink"],
            registry=registry,
        ).labels(sink)

    @property
    def assigned(self) -> bool:
        return bool(self.held)

    def unassigned_for(self) -> float:
        """Seconds this consumer has held no partition (0 while it holds some)."""
        return 0.0 if self.unassigned_since is None else self.clock() - self.unassigned_since

    def assign(self, partitions: Iterable[Partition]) -> None:
        """The group gave this consumer `partitions`: the whole new assignment (eager protocols) or the
        partitions added to it (cooperative-sticky)."""
        new = set(partitions) | (self.held if self.incremental else set())
        self._drop(self.held - new)
        self.held = new
        self._changed()

    def revoke(self, partitions: Iterable[Partition]) -> None:
        gone = set(partitions) & self.held
        self.held -= gone
        self._drop(gone)
        self._changed()

    def update_lag(self, consumer: Watermarks, positions: dict[Partition, int]) -> int:
        """Record `positions` (after a write) and refresh the lag of every held partition; the total."""
        self.positions.update({tp: o for tp, o in positions.items() if tp in self.held})
        total = 0
        for (topic, partition), position in sorted(self.positions.items()):
            high = high_watermark(consumer, topic, partition)
            if high is None:
                continue
            behind = max(0, high - position)
            self._lag.labels(self.sink, topic, str(partition)).set(behind)
            total += behind
        return total

    def _drop(self, partitions: set[Partition]) -> None:
        for topic, partition in partitions:
            self.positions.pop((topic, partition), None)
            with contextlib.suppress(KeyError):  # never had a lag sample
                self._lag.remove(self.sink, topic, str(partition))

    def _changed(self) -> None:
        self._changes.inc()
        self._held.set(len(self.held))
        if self.held:
            self.unassigned_since = None
        elif self.unassigned_since is None:
            self.unassigned_since = self.clock()
        log.info("%s holds partitions %s", self.sink, sorted(p for _, p in self.held))


def high_watermark(consumer: Watermarks, topic: str, partition: int) -> int | None:
    """The high watermark the consumer's fetches last saw (cached), None when unknown."""
    try:
        marks = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
    except KafkaException:
        return None
    return marks[1] if marks is not None and marks[1] >= 0 else None
