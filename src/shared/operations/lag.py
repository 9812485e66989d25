"""Consumer lag per partition: each sink group's committed offset against the partition's high watermark.

Caveat (docs/operations.md): Tansu, the embedded broker, reports high watermarks that can lag what is
readable (one record short for 20 s and more with no new writes). Lag computed here can therefore read
lower than the truth, never higher; a lag of 0 on Tansu means "at most a record or so behind". To know
exactly what is left, read from the committed offsets until idle (tradestore.local.drain does that).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from shared.kafka import client_config
from shared.operations.reading import BrokerUnavailable
from shared.settings import Settings

SINKS = ("mongo", "sql")
_LOG = {"logger": logging.getLogger("librdkafka")}


@dataclass(frozen=True)
class PartitionLag:
    """One group's position on one partition. `committed` is None when the group committed nothing."""

    group: str
    partition: int
    committed: int | None
    high: int

    @property
    def lag(self) -> int:
        return max(0, self.high - (self.committed or 0))


def sink_groups(settings: Settings) -> dict[str, str]:
    """Sink name -> its consumer group (CONSUMER_GROUP, else tradestore-<sink>, as the runtime names it)."""
    return {sink: settings.consumer_group or f"tradestore-{sink}" for sink in SINKS}


def consumer_lag(
    settings: Settings, groups: list[str] | None = None, timeout_s: float = 5.0
) -> list[PartitionLag]:
    """Lag of every group on every partition of the trades topic, ordered by group then partition."""
    topic = settings.trades_topic
    wanted = groups if groups is not None else sorted(set(sink_groups(settings).values()))
    config = client_config(settings, "tradestore-ops")
    found: list[PartitionLag] = []
    probe = Consumer(
        {**config, "group.id": f"tradestore-lag-{uuid.uuid4().hex}", "enable.auto.commit": False, **_LOG}
    )
    try:
        try:
            meta = probe.list_topics(topic, timeout=timeout_s).topics.get(topic)
        except KafkaException as exc:
            raise BrokerUnavailable(f"broker unreachable: {exc.args[0].str()}") from None
        if meta is None or meta.error is not None:
            return []
        partitions = sorted(meta.partitions)
        high = {
            p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1] for p in partitions
        }
    finally:
        probe.close()
    for group in wanted:
        found.extend(_group_lag(config, group, topic, high, timeout_s))
    return found


def _group_lag(
    config: dict[str, object], group: str, topic: str, high: dict[int, int], timeout_s: float
) -> list[PartitionLag]:
    reader = Consumer({**config, "group.id": group, "enable.auto.commit": False, **_LOG})
    try:
        committed = reader.committed([TopicPartition(topic, p) for p in high], timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailable(f"committed offsets of {group}: {exc.args[0].str()}") from None
    finally:
        reader.close()
    return [
        PartitionLag(group, tp.partition, tp.offset if tp.offset >= 0 else None, high[tp.partition])
        for tp in committed
    ]
