"""Is anything left for a consumer group? Read from the group's committed offsets until idle.

Tansu's reported high watermarks can lag behind what is readable, so lag is measured by reading,
not by comparing watermarks.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient


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
    reader = Consumer({**config, "group.id": f"drain-probe-{uuid.uuid4().hex}", "enable.auto.commit": False})
    try:
        reader.assign(positions)
        count, last = 0, time.monotonic()
        while time.monotonic() - last < idle_s and count < cap:
            msg = reader.poll(0.1)
            if msg is not None and msg.error() is None:
                count += 1
                last = time.monotonic()
        return count
    finally:
        reader.close()


def topic_exists(config: dict[str, Any], topic: str) -> bool:
    return topic in AdminClient(config).list_topics(timeout=10).topics
