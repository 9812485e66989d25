"""A reproducible mix of trades and what the stores must hold after it (the independent model, model.py).

The mix: several books and counterparties, several versions per trade, re-posts of the same key, a
same-version override with another counterparty, lower (stale) versions after higher ones, and matured
trades. Posts of one trade_id must be sent in order (the runner does so); different trade_ids may race.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from shared.ports import Key, StoreSummary
from shared.schema import TradePayload
from tradestore.regress.model import expected_outcome

BOOKS = [f"B-{i}" for i in range(1, 6)]
COUNTERPARTIES = [f"CP-{i}" for i in range(1, 9)]


@dataclass
class Scenario:
    """The posts grouped by trade_id (each group in order) and the expected outcome."""

    prefix: str
    groups: dict[str, list[dict[str, Any]]]
    expected: StoreSummary
    expected_rejected: int
    expected_records: dict[Key, TradePayload] = field(repr=False)

    @property
    def posts(self) -> int:
        return sum(len(g) for g in self.groups.values())

    def iter_posts(self) -> Iterator[dict[str, Any]]:
        for group in self.groups.values():
            yield from group


def _trade(rng: random.Random, trade_id: str, version: int, today: date, matured: bool) -> dict[str, Any]:
    created = today - timedelta(days=rng.randint(30, 400))
    maturity = (
        today - timedelta(days=rng.randint(1, 20)) if matured else today + timedelta(days=rng.randint(1, 900))
    )
    return {
        "trade_id": trade_id,
        "counterparty_id": rng.choice(COUNTERPARTIES),
        "book_id": rng.choice(BOOKS),
        "version": version,
        "maturity_date": max(maturity, created).isoformat(),
        "created_date": created.isoformat(),
        "expired": False,
    }


def _group(rng: random.Random, trade_id: str, today: date) -> list[dict[str, Any]]:
    """One trade's posts: 1-3 rising versions, then maybe a re-post, an override, or a stale version."""
    matured = rng.random() < 0.15
    posts = [_trade(rng, trade_id, 1, today, matured)]
    for version in range(2, rng.randint(1, 3) + 1):
        posts.append({**posts[-1], "version": version, "counterparty_id": rng.choice(COUNTERPARTIES)})
    roll = rng.random()
    if roll < 0.15:
        posts.append(dict(posts[-1]))  # exact re-post: no duplicate
    elif roll < 0.25:
        posts.append({**posts[-1], "counterparty_id": "CP-OVERRIDE"})  # same key: overrides
    elif roll < 0.35 and posts[-1]["version"] > 1:
        posts.append(dict(posts[0]))  # stale copy of version 1: rejected
    return posts


def build_scenario(n: int, today: date, prefix: str, seed: int = 7) -> Scenario:
    """About `n` posts (exactly n), their expected stored records and aggregates."""
    rng = random.Random(seed)
    groups: dict[str, list[dict[str, Any]]] = {}
    total = 0
    index = 0
    while total < n:
        trade_id = f"{prefix}{index:06d}"
        group = _group(rng, trade_id, today)[: n - total]
        groups[trade_id] = group
        total += len(group)
        index += 1
    records, rejected = expected_outcome(groups, today)
    return Scenario(prefix, groups, summarize(records.values()), rejected, records)


def summarize(trades: Any) -> StoreSummary:
    """The aggregates a store must report for these trades."""
    listed: list[TradePayload] = list(trades)
    latest: dict[str, int] = {}
    for t in listed:
        latest[t.trade_id] = max(latest.get(t.trade_id, 0), t.version)
    return StoreSummary(
        total=len(listed),
        per_book=dict(Counter(t.book_id for t in listed)),
        latest_version=latest,
        expired=sum(t.expired for t in listed),
    )
