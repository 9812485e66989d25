"""After a scenario was posted (tradestore.posting.post_all): wait for the stores, count the rejections."""

from __future__ import annotations

import time
from typing import Any

from shared.kafka import TopicRecord, read_until
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
    """Lower-version rejections per sink on the dead-letter topic, for this run's trades (read until every
    sink's expected count arrived and the topic stayed idle for a second, so extra letters are seen too)."""
    key_prefix = prefix.encode()

    def ours(record: TopicRecord) -> bool:
        lower = record.headers.get("dlq.reason") == b"lower_version"
        return lower and (record.key or b"").startswith(key_prefix)

    letters = read_until(
        config, topic, count=expected * len(sinks), idle_s=1.0, deadline_s=deadline_s, keep=ours
    )
    counts = dict.fromkeys(sinks, 0)
    for letter in letters:
        sink = letter.headers.get("dlq.sink", b"").decode()
        counts[sink] = counts.get(sink, 0) + 1
    return counts
