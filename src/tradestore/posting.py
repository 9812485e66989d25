"""Post trade groups through the API (the regression runner and the fault run): each trade_id's posts in
order on one thread, trade_ids concurrently, and every refused post re-posted until it is acknowledged.

Why re-post: a 503 after the publish timeout may still have been delivered (librdkafka's
message.timeout.ms equals the API's timeout), so a refused post is "maybe delivered". Re-posting the
same trade until a 2xx makes it "certainly delivered, maybe twice", which the idempotent stores absorb:
then the expected outcome is exact. Each trade_id's posts are sent in order, on one thread, and a post
is only followed by the next one once acknowledged. A post still refused at its deadline is
"not acknowledged" and the verification treats it as allowed-but-not-required (see verify.py).
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tradestore.httpclient import ApiClient

MAX_RETRY_AFTER_S = 2.0


@dataclass
class Posting:
    """What the API answered over the whole run."""

    posts: int = 0
    acknowledged: int = 0
    retried_503: int = 0
    connection_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # every answer, retries included
    acked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per trade_id, in order
    unacked: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], int, str]] = field(default_factory=list)  # 4xx: a bug
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Pacer:
    """Hand out start times t0 + i/rate to whichever thread asks next; no-op without a rate."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            slot = self.next
            self.next = max(slot, time.monotonic()) + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the load, not waiting for consistency


def post_until_acked(client: ApiClient, trade: dict[str, Any], deadline_s: float, out: Posting) -> bool:
    """Post `trade` until 2xx, a non-retryable answer, or `deadline_s` seconds; True when acknowledged."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            status, headers, body = client.post("/trades", trade)
        except (OSError, http.client.HTTPException):
            status, headers, body = 0, {}, b""
        with out.lock:
            out.statuses[status] += 1
            out.connection_errors += status == 0
        if 200 <= status < 300:
            return True
        if status not in (0, 503):
            with out.lock:
                out.rejected.append((trade, status, body[:300].decode(errors="replace")))
            return False
        if time.monotonic() > deadline:
            return False
        with out.lock:
            out.retried_503 += status == 503
        retry_after = headers.get("retry-after", "1")
        time.sleep(min(float(retry_after) if retry_after.isdigit() else 1.0, MAX_RETRY_AFTER_S))


def post_all(
    groups: dict[str, list[dict[str, Any]]],
    url: str,
    concurrency: int,
    deadline_s: float = 120.0,
    tick: Callable[[], None] = lambda: None,
    rate: float | None = None,
    headers: dict[str, str] | None = None,
) -> Posting:
    """Post every group in order on `concurrency` threads (one keep-alive connection each).

    With `rate`, posts start no faster than `rate` per second overall (so a short run still spans
    its fault window).
    """
    out = Posting()
    pace = Pacer(rate)
    work: queue.SimpleQueue[tuple[str, list[dict[str, Any]]]] = queue.SimpleQueue()
    for item in groups.items():
        work.put(item)

    def worker() -> None:
        client = ApiClient(url, headers, timeout_s=30.0)
        try:
            while True:
                try:
                    trade_id, group = work.get_nowait()
                except queue.Empty:
                    return
                for trade in group:
                    pace.wait()
                    ok = post_until_acked(client, trade, deadline_s, out)
                    with out.lock:
                        out.posts += 1
                        if ok:
                            out.acknowledged += 1
                            out.acked.setdefault(trade_id, []).append(trade)
                        else:
                            out.unacked.append(trade)
                    tick()
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, name=f"poster-{i}") for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.seconds = time.monotonic() - started
    return out
