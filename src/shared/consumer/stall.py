"""A consumer that holds partitions with records waiting, yet fetches nothing, says so (issue 16).

While the runtime is idle (a poll brought no record) and holds partitions, it checks, at most every
`every_s`, how many records wait past its position in each held partition: the high watermark asked of
the broker (not librdkafka's cached value, which a stalled fetcher stops refreshing) minus the fetch
position (else the committed offset, else the low watermark). Records waiting at every check for
CONSUMER_STALL_S with no record fetched in between is a stall: one WARNING naming the partitions, their
positions and watermarks, `tradestore_consumer_stalled{sink}` = 1 and /ready answers 503 until a record
is fetched again. The rule holds on any broker: an idle consumer with nothing to read has nothing waiting
(position = high watermark); a consumer reading nothing while records wait is not doing its job. Two
cases where it reports what is real but not our fault: a partition whose leader is down (nothing can be
fetched), and a transactional producer holding the last stable offset below the high watermark for
longer than the bound (read_committed; TradeStore's producers are idempotent, not transactional).
On Tansu the high watermark can be a record short (docs/operations.md): a stall of one record may go
unreported there, never a false one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger("shared.consumer")
Partition = tuple[str, int]


def records_waiting(
    consumer: Any, held: Collection[Partition], timeout_s: float = 1.0
) -> dict[int, tuple[int, int]]:
    """(position, high watermark) of every held partition with records past the position."""
    tps = [TopicPartition(t, p) for t, p in sorted(held)]
    try:
        positions = {tp.partition: tp.offset for tp in consumer.position(tps)}
        unknown = [tp for tp in tps if positions.get(tp.partition, -1) < 0]
        if unknown:
            positions.update(
                {tp.partition: tp.offset for tp in consumer.committed(unknown, timeout=timeout_s)}
            )
        waiting: dict[int, tuple[int, int]] = {}
        for tp in tps:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
            position = positions.get(tp.partition, -1)
            position = position if position >= 0 else low
            if high > position:
                waiting[tp.partition] = (position, high)
    except KafkaException as exc:  # broker unreachable: no verdict this time
        log.debug("stall check skipped: %s", exc)
        return {}
    except Exception as exc:  # a diagnostic never takes the loop down (e.g. a client without these calls)
        log.debug("stall check unavailable: %r", exc)
        return {}
    return waiting


class StallWatch:
    """Tracks fetch progress; `check` while idle, `fetched` whenever a poll brought records."""

    def __init__(
        self, sink: str, registry: CollectorRegistry, clock: Callable[[], float], bound_s: float
    ) -> None:
        self.sink, self.clock, self.bound_s = sink, clock, bound_s
        self.every_s = min(5.0, bound_s / 3)
        self.stalled = False
        self.waiting_since: float | None = None
        self._last_check = clock()
        self._gauge = Gauge(
            "tradestore_consumer_stalled",
            "1 while this consumer holds partitions with records waiting and has fetched nothing for "
            "CONSUMER_STALL_S",
            ["sink"],
            registry=registry,
        ).labels(sink)
        self._episodes = Counter(
            "tradestore_consumer_stalls",
            "Stalls detected (records waiting, nothing fetched)",
            ["sink"],
            registry=registry,
        ).labels(sink)

    def fetched(self) -> None:
        """A poll brought records: the consumer is moving."""
        if self.stalled:
            log.info("%s fetching again after a stall", self.sink)
        self.waiting_since = None
        self._set(False)

    def check(self, consumer: Any, held: Collection[Partition]) -> None:
        """Called when a poll brought nothing: look for records waiting, at most every `every_s`."""
        now = self.clock()
        if self.bound_s <= 0 or now - self._last_check < self.every_s:
            return
        self._last_check = now
        waiting = records_waiting(consumer, held) if held else {}
        if not waiting:
            self.waiting_since = None
            self._set(False)
            return
        if self.waiting_since is None:
            self.waiting_since = now
        idle_s = now - self.waiting_since
        if idle_s >= self.bound_s and not self.stalled:
            self._episodes.inc()
            log.warning(
                "%s holds partitions %s but fetched nothing for %.0fs while %d record(s) wait: "
                "partition: (position, high watermark) %s",
                self.sink,
                sorted(p for _, p in held),
                idle_s,
                sum(high - pos for pos, high in waiting.values()),
                waiting,
            )
            self._set(True)

    def _set(self, stalled: bool) -> None:
        self.stalled = stalled
        self._gauge.set(1 if stalled else 0)
