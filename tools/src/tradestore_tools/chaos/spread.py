"""Posting over several API processes: the trade_ids are dealt round-robin, each API gets its share of
the threads and of the rate, and one trade_id's posts all go, in order, to the same API."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tradestore.posting import Posting, post_all


def deal(groups: dict[str, list[dict[str, Any]]], hands: int) -> list[dict[str, list[dict[str, Any]]]]:
    """Split the groups into `hands` shares, round-robin in the scenario's order."""
    items = list(groups.items())
    return [dict(items[i::hands]) for i in range(hands)]


def merge(parts: list[Posting]) -> Posting:
    """One Posting of the whole run (seconds: the longest share)."""
    out = Posting()
    for p in parts:
        out.posts += p.posts
        out.acknowledged += p.acknowledged
        out.retried_503 += p.retried_503
        out.connection_errors += p.connection_errors
        out.statuses.update(p.statuses)
        out.acked.update(p.acked)  # shares hold disjoint trade_ids
        out.unacked.extend(p.unacked)
        out.rejected.extend(p.rejected)
        out.seconds = max(out.seconds, p.seconds)
    return out


def post_spread(
    groups: dict[str, list[dict[str, Any]]],
    urls: list[str],
    concurrency: int,
    deadline_s: float,
    tick: Callable[[], None] = lambda: None,
    rate: float | None = None,
) -> tuple[Posting, dict[str, int]]:
    """Post every group through `urls` at once; the merged Posting and the posts each URL answered."""
    shares = deal(groups, len(urls))
    threads = max(1, concurrency // len(urls))
    each_rate = None if rate is None else rate / len(urls)
    results: list[Posting | None] = [None] * len(urls)

    def run(i: int) -> None:
        results[i] = post_all(shares[i], urls[i], threads, deadline_s, tick, each_rate)

    workers = [threading.Thread(target=run, args=(i,), name=f"api-{i}") for i in range(len(urls))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done = [r for r in results if r is not None]
    if len(done) != len(urls):
        raise RuntimeError("a posting thread failed; see the log")
    return merge(done), {url: r.posts for url, r in zip(urls, done, strict=True)}
