"""Poison isolation: a batch the store refuses as a whole (StoreRejected) is split in halves until each
refusal is pinned on one record; every other record is written.

A store that names the refused records itself (WriteResult.refused, e.g. MongoDB's per-document errors
of an unordered bulk write) needs no split. Writes are idempotent upserts, so writing the halves of a
batch leaves the store as writing the batch would. Isolating one culprit among n records costs about
2 * log2(n) writes (20 for 1,000). StoreUnavailable propagates: the caller retries the whole call.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import StoreRejected
from shared.ports import StoredTrade, TradeWriter, WriteResult
from shared.stores.records import latest_per_key


def write_isolating(writer: TradeWriter, records: Sequence[StoredTrade]) -> WriteResult:
    """Write the batch (one record per key, the latest); isolate what the store refuses."""
    return _write(writer, latest_per_key(records))


def _write(writer: TradeWriter, records: Sequence[StoredTrade]) -> WriteResult:
    if not records:
        return WriteResult(written=0)
    try:
        return writer.write(records)
    except StoreRejected as exc:
        if len(records) == 1:
            return WriteResult(written=0, refused={records[0].key: exc.reason})
    middle = len(records) // 2
    return merge(_write(writer, records[:middle]), _write(writer, records[middle:]))


def merge(a: WriteResult, b: WriteResult) -> WriteResult:
    """The outcome of two disjoint writes taken together."""
    return WriteResult(a.written + b.written, {**a.stale, **b.stale}, {**a.refused, **b.refused})
