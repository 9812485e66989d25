"""After a scenario was posted (tradestore.posting.post_all): wait for the stores, count the rejections."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from shared.ports import StoreSummary, TradeAudit


def wait_for_summary(
    reader: TradeAudit, prefix: str, expected: StoreSummary, deadline_s: float
) -> tuple[StoreSummary, float]:
    """Poll the store's summary until it equals `expected` or the deadline passes; (last, seconds)."""
    started = time.monotonic()
    while True:
        got = reader.summary(prefix)
        if got == expected or time.monotonic() - started > deadline_s:
            return got, time.monotonic() - started
        time.sleep(0.25)


def count_rejections(
    config: dict[str, Any], topic: str, prefix: str, sinks: list[str], expected: int, deadline_s: float
) -> dict[str, int]:
    """Lower-version rejections per sink on the dead-letter topic, for this run's trades."""
    consumer = Consumer({**config, "group.id": f"regress-{uuid.uuid4().hex}", "enable.auto.commit": False})
    counts = dict.fromkeys(sinks, 0)
    key_prefix = prefix.encode()
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or not meta.partitions:
            return counts
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        end = time.monotonic() + deadline_s
        idle_since = time.monotonic()
        while time.monotonic() < end:
            msg = consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                if all(v >= expected for v in counts.values()) and time.monotonic() - idle_since > 1.0:
                    break
                continue
            idle_since = time.monotonic()
            raw: Any = msg.headers() or []
            headers = {str(k): v if isinstance(v, bytes) else b"" for k, v in raw}
            sink = headers.get("dlq.sink", b"").decode()
            if (msg.key() or b"").startswith(key_prefix) and headers.get("dlq.reason") == b"lower_version":
                counts[sink] = counts.get(sink, 0) + 1
        return counts
    finally:
        consumer.close()
