"""Topic administration and the one way TradeStore reads a topic back: `read_until`.

Tansu's reported high watermarks can lag behind what is readable, so records are counted by reading
them (poll until an expected count, or until nothing arrives for a while, or a deadline), never by
comparing watermarks.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from shared.kafka.config import client_config
from shared.settings import Settings

log = logging.getLogger(__name__)


def ensure_topics(settings: Settings, topics: Iterable[str] | None = None, timeout_s: float = 10.0) -> None:
    """Create the trades, dead-letter and outcomes topics when missing, with TRADES_TOPIC_PARTITIONS
    partitions and TRADES_TOPIC_REPLICATION replicas (-1, the default: the broker's own
    default.replication.factor, so a production cluster's durability applies, and 1 on a single broker)."""
    default = [settings.trades_topic, settings.trades_dlq_topic, settings.trades_outcomes_topic]
    names = list(topics) if topics is not None else default
    config = {**client_config(settings, "tradestore-admin"), "logger": logging.getLogger("librdkafka")}
    admin = AdminClient(config)
    existing = admin.list_topics(timeout=timeout_s).topics
    partitions, replicas = settings.trades_topic_partitions, settings.trades_topic_replication
    missing = [NewTopic(n, partitions, replicas) for n in names if n not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, request_timeout=timeout_s).items():
        try:
            future.result(timeout_s)
            shown = "the broker's default" if replicas == -1 else str(replicas)
            log.info("created topic %s with %d partitions, replication %s", name, partitions, shown)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


@dataclass(frozen=True)
class TopicRecord:
    """One record read back from a topic, headers as a dict (last value wins)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    timestamp_ms: int | None = None  # the record's timestamp (create or log-append time), when it has one


def read_until(
    config: Mapping[str, Any],
    topic: str,
    *,
    count: int = 0,
    idle_s: float | None = 1.0,
    limit: int | None = None,
    deadline_s: float = 30.0,
    start: Sequence[TopicPartition] | None = None,
    keep: Callable[[TopicRecord], bool] | None = None,
) -> list[TopicRecord]:
    """Read `topic` (from offset 0 of every partition, or from `start`) with assign(), no group commits.

    Polls until at least `count` kept records were read, then until nothing arrived for `idle_s` (None:
    stop at once); stops early at `limit` records, and always at `deadline_s`. `keep` filters what is
    returned and counted. `count=N, idle_s=None` is "until N records or the deadline".
    """
    consumer = Consumer(
        {
            "client.id": "tradestore-reader",
            **config,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        if start is None:
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
            start = [TopicPartition(topic, p, 0) for p in (meta.partitions if meta else {})]
        consumer.assign(list(start))
        stop = _Stop(count, idle_s, limit, time.monotonic() + deadline_s)
        return _poll_records(consumer, stop, keep)
    finally:
        consumer.close()


@dataclass(frozen=True)
class _Stop:
    count: int
    idle_s: float | None
    limit: int | None
    deadline: float

    def reached(self, read: int, idle_for: float) -> bool:
        if time.monotonic() >= self.deadline or (self.limit is not None and read >= self.limit):
            return True
        return read >= self.count and (self.idle_s is None or idle_for >= self.idle_s)


def _poll_records(
    consumer: Consumer, stop: _Stop, keep: Callable[[TopicRecord], bool] | None
) -> list[TopicRecord]:
    records: list[TopicRecord] = []
    last = time.monotonic()
    while not stop.reached(len(records), time.monotonic() - last):
        msg = consumer.poll(0.1)
        if msg is None or msg.error() is not None:
            continue
        last = time.monotonic()
        raw: Any = msg.headers() or []
        headers = {str(k): v if isinstance(v, bytes) else b"" for k, v in raw}
        record = TopicRecord(
            str(msg.topic()),
            int(msg.partition() or 0),
            int(msg.offset() or 0),
            msg.key(),
            msg.value(),
            headers,
            _timestamp_ms(msg),
        )
        if keep is None or keep(record):
            records.append(record)
    return records


def _timestamp_ms(msg: Any) -> int | None:
    kind, stamp = msg.timestamp()
    return int(stamp) if kind else None  # kind 0: TIMESTAMP_NOT_AVAILABLE
