"""What every store adapter does with a batch before its driver sees it, written once."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from shared.ports import Key, StoredTrade


def latest_per_key(records: Sequence[StoredTrade]) -> list[StoredTrade]:
    """One record per business key, the latest of the batch (a key seen twice keeps its last record),
    in first-seen order: a store's bulk write must not hold two writes of one key."""
    latest: dict[Key, StoredTrade] = {}
    for record in records:
        latest[record.key] = record
    return list(latest.values())


def wanted_origins(
    rows: Iterable[tuple[Key, tuple[int, int]]], wanted: Collection[Key]
) -> dict[Key, tuple[int, int]]:
    """The (partition, offset) of each wanted key among rows read by trade_id (stored_origins)."""
    return {key: origin for key, origin in rows if key in wanted}


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`, in code-point order."""
    return prefix + "\U0010ffff"
