"""What every store adapter does with a batch before its driver sees it, written once."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from shared.ports import Key, StoredTrade

LAST_CODE_POINT = "\U0010ffff"


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


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix`, in code-point order (UTF-8
    byte order: MongoDB's string order): the prefix with its last character raised by one, after
    dropping trailing U+10FFFF (nothing follows it). None when there is no such string (an empty prefix,
    or one of U+10FFFF only). Surrogates cannot be stored, so U+D7FF is followed by U+E000."""
    stem = prefix.rstrip(LAST_CODE_POINT)
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    return stem[:-1] + chr(0xE000 if following == 0xD800 else following)
