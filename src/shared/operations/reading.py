"""Read a whole topic from offset 0 with assign() (no group join), bounded in time and records.

Tansu's reported high watermarks can lag what is readable (one record short for 20 s and more), so the
read goes on past them until nothing arrives for `idle_s`; the watermarks only shorten the wait once
every partition reached them. A deadline and a record cap bound a topic that never goes quiet.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition


class BrokerUnavailable(RuntimeError):
    """The broker did not answer a metadata or fetch request in time."""


@dataclass(frozen=True)
class KafkaRecord:
    """One record as plain values; `headers` keep their order (a name may repeat)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int | None

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def time(self) -> datetime | None:
        return None if self.timestamp_ms is None else datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def header(self, name: str) -> str | None:
        """The last value of header `name` as text (None when absent)."""
        found = [v for k, v in self.headers if k == name]
        return found[-1].decode("utf-8", "replace") if found else None


def _record(msg: Any) -> KafkaRecord:
    kind, stamp = msg.timestamp()
    return KafkaRecord(
        msg.topic(),
        msg.partition(),
        msg.offset(),
        msg.key(),
        msg.value(),
        tuple((k, v or b"") for k, v in (msg.headers() or [])),
        stamp if kind else None,  # kind 0: TIMESTAMP_NOT_AVAILABLE
    )


def iter_topic(
    config: dict[str, Any],
    topic: str,
    idle_s: float = 0.5,
    deadline_s: float = 20.0,
    start: Callable[[int], int] = lambda _partition: 0,
) -> Iterator[KafkaRecord]:
    """Every record of `topic` from `start(partition)` (default 0), in per-partition offset order."""
    reader = Consumer(
        {
            **config,
            "group.id": f"tradestore-ops-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "logger": logging.getLogger("librdkafka"),
        }
    )
    try:
        try:
            meta = reader.list_topics(topic, timeout=5).topics.get(topic)
        except KafkaException as exc:
            raise BrokerUnavailable(f"broker unreachable: {exc.args[0].str()}") from None
        if meta is None or meta.error is not None or not meta.partitions:
            return  # the topic does not exist (yet): it holds nothing
        partitions = sorted(meta.partitions)
        high = {p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        reader.assign([TopicPartition(topic, p, start(p)) for p in partitions])
        position = {p: start(p) for p in partitions}
        yield from _drain(reader, position, high, idle_s, time.monotonic() + deadline_s)
    finally:
        reader.close()


def _drain(
    reader: Any, position: dict[int, int], high: dict[int, int], idle_s: float, deadline: float
) -> Iterator[KafkaRecord]:
    """Poll until idle: `idle_s` once every partition reached its reported watermark, 4x that before."""
    last = time.monotonic()
    while time.monotonic() < deadline:
        reached = all(position[p] >= high[p] for p in position)
        if time.monotonic() - last > (idle_s if reached else 4 * idle_s):
            return
        msg = reader.poll(0.1)
        if msg is None or msg.error() is not None:
            continue
        last = time.monotonic()
        position[msg.partition()] = msg.offset() + 1
        yield _record(msg)
