"""Synthetic trades for the benchmarks: unique ids, live (not matured) dates, a few bytes each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from shared.kafka import partition_for


def trade(prefix: str, n: int) -> dict[str, Any]:
    return {
        "trade_id": f"{prefix}-{n}",
        "counterparty_id": f"CP-{n % 97}",
        "book_id": f"B-{n % 13}",
        "version": 1,
        "maturity_date": "2030-01-15",
        "created_date": "2025-09-28",
        "expired": False,
    }


def trades(prefix: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    return [trade(prefix, n) for n in range(start, start + count)]


def records(prefix: str, count: int, partitions: int) -> Iterator[tuple[int, bytes, bytes]]:
    """(partition, key, value) of `count` trades, serialised as TradeData would publish them."""
    for item in trades(prefix, count):
        key = f"{item['trade_id']}:{item['version']}:{item['book_id']}".encode()
        yield partition_for(item["trade_id"], partitions), key, orjson.dumps(item)


def batches(prefix: str, count: int, size: int) -> list[list[dict[str, Any]]]:
    """`count` trades split into lists of `size`."""
    items = trades(prefix, count)
    return [items[i : i + size] for i in range(0, count, size)]
