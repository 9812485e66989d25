"""Is anything left for a consumer group? Read from the group's committed offsets until idle.

Tansu's reported high watermarks can lag behind what is readable, so lag is measured by reading,
not by comparing watermarks.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from shared.kafka import read_until


def committed_offsets(config: dict[str, Any], group: str, topic: str) -> list[TopicPartition]:
    """The group's committed position on every partition (beginning where it has none)."""
    probe = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    try:
        meta = probe.list_topics(topic, timeout=10).topics[topic]
        wanted = [TopicPartition(topic, p) for p in meta.partitions]
        committed = probe.committed(wanted, timeout=10)
        return [
            TopicPartition(topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
            for tp in committed
        ]
    finally:
        probe.close()


def unread(config: dict[str, Any], group: str, topic: str, idle_s: float = 0.5, cap: int = 1000) -> int:
    """How many records (up to `cap`) follow the group's committed offsets."""
    positions = committed_offsets(config, group, topic)
    return len(read_until(config, topic, idle_s=idle_s, limit=cap, start=positions))


def topic_exists(config: dict[str, Any], topic: str) -> bool:
    return topic in AdminClient(config).list_topics(timeout=10).topics
