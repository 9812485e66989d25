"""Submit a scenario through the API (one trade_id's posts in order, trade_ids concurrently), then check.

503 answers are retried after Retry-After: retrying is safe because the stores upsert by key.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from shared.reader import StoreSummary, TradeReader
from tradestore.httpclient import ApiClient
from tradestore.regress.scenario import Scenario

MAX_RETRIES = 20


@dataclass
class Submission:
    """How the API answered: status counts, and the posts that never got a 201."""

    statuses: Counter[int] = field(default_factory=Counter)
    failed: list[tuple[dict[str, Any], int, str]] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post_group(
    client: ApiClient, group: list[dict[str, Any]], result: Submission, tick: Callable[[], None]
) -> None:
    for trade in group:
        for _attempt in range(MAX_RETRIES):
            status, headers, body = client.post("/trades", trade)
            if status != 503:
                break
            time.sleep(float(headers.get("retry-after", "1")))
        with result.lock:
            result.statuses[status] += 1
            if status != 201:
                result.failed.append((trade, status, body[:300].decode(errors="replace")))
        tick()


def submit(
    scenario: Scenario,
    url: str,
    concurrency: int,
    tick: Callable[[], None],
    headers: dict[str, str] | None = None,
) -> Submission:
    """Post every group in order on `concurrency` threads, each with its own keep-alive connection."""
    result = Submission()
    groups: queue.SimpleQueue[list[dict[str, Any]]] = queue.SimpleQueue()
    for group in scenario.groups.values():
        groups.put(group)

    def worker() -> None:
        client = ApiClient(url, headers)
        try:
            while True:
                try:
                    group = groups.get_nowait()
                except queue.Empty:
                    return
                _post_group(client, group, result, tick)
        finally:
            client.close()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    result.seconds = time.monotonic() - started
    return result


def wait_for_summary(
    reader: TradeReader, prefix: str, expected: StoreSummary, deadline_s: float
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
