"""Where a consumer stands in its partitions: polled messages as plain records, store offsets after a
write, pause/resume, rewind (lag: shared.consumer.assignment; stalls: shared.consumer.stall).

Plain functions over a confluent_kafka.Consumer (or a fake with the same methods), so the runtime keeps
only the order of things.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

from confluent_kafka import KafkaException, Message, TopicPartition

from shared.consumer.batch import Inbound, next_offsets

log = logging.getLogger("shared.consumer")
_inbound = Inbound._make


def to_inbound(msg: Message) -> Inbound:
    """A polled (error-free) message as plain values: its topic, partition and offset as librdkafka gives them
    (never None on an error-free message), through tuple._make (1.5 -> 0.4 us a record, issue 14)."""
    raw: Any = msg.headers()
    headers = tuple((str(k), v) for k, v in raw if isinstance(v, bytes)) if raw else ()
    return _inbound((msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(), headers))


def store_offsets(consumer: Any, records: Sequence[Inbound], sink: str) -> dict[tuple[str, int], int]:
    """Store one-past-the-last offsets of a written batch (librdkafka commits them); returns them."""
    positions = next_offsets(records)
    try:
        consumer.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()])
    except KafkaException as exc:  # partition revoked meanwhile: the next owner re-reads (idempotent)
        log.warning("%s could not store offsets: %s", sink, exc)
    return positions


def pause(consumer: Any) -> list[TopicPartition]:
    """Pause every assigned partition (polling goes on, records stop arriving); returns what it paused."""
    try:
        paused: list[TopicPartition] = consumer.assignment()
        consumer.pause(paused)
    except KafkaException as exc:
        log.debug("pause skipped: %s", exc)
        return []
    return paused


def resume(consumer: Any, partitions: Sequence[TopicPartition]) -> None:
    """Resume `partitions`, assigned or not.

    librdkafka keeps an application pause on a partition across its revocation and re-assignment (it
    resets only its own pause flag, rdkafka_assignment.c): resuming only what is assigned after a
    rebalance left a partition that came back paused for good, fetching nothing, logging nothing
    (issue 16's silent stall). Resuming a partition that is not assigned clears its flag.
    """
    if not partitions:
        return
    try:
        consumer.resume(list(partitions))
    except KafkaException as exc:
        log.debug("resume skipped: %s", exc)


def rewind(consumer: Any, records: Sequence[Inbound], assigned: Collection[tuple[str, int]]) -> None:
    """Seek still-assigned partitions back to the batch's first offsets, so nothing is skipped."""
    first: dict[tuple[str, int], int] = {}
    for r in records:
        first[(r.topic, r.partition)] = min(first.get((r.topic, r.partition), r.offset), r.offset)
    for (t, p), offset in first.items():
        if (t, p) in assigned:
            try:
                consumer.seek(TopicPartition(t, p, offset))
            except KafkaException as exc:
                log.debug("seek skipped: %s", exc)
