"""Store-side queries of the verification: duplicate keys asked of each store, and waiting until settled."""

from __future__ import annotations

import time
from collections import Counter

from shared.errors import StoreUnavailable
from shared.ports import Key, StoreSummary, TradeAudit


def duplicate_keys(reader: TradeAudit, prefix: str) -> list[Key]:
    """Keys held by more than one stored record (the stores' unique keys should forbid it), counted over
    the store's own listing through the audit port."""
    counts = Counter(trade.key for trade in reader.iter_trades(prefix))
    return sorted(key for key, n in counts.items() if n > 1)


def wait_settled(
    reader: TradeAudit, prefix: str, expected: StoreSummary, deadline_s: float, quiet_s: float = 15.0
) -> tuple[bool, float]:
    """Poll the store's summary until it equals `expected`, or has not changed for `quiet_s`, or the
    deadline passes; (matched, seconds waited). Store errors (it may be restarting) count as "not yet"."""
    started = time.monotonic()
    last: StoreSummary | None = None
    changed = started
    while True:
        now = time.monotonic()
        try:
            got: StoreSummary | None = reader.summary(prefix)
        except (StoreUnavailable, OSError):
            got = None
        if got == expected:
            return True, now - started
        if got != last:
            last, changed = got, now
        if now - changed > quiet_s or now - started > deadline_s:
            return False, now - started
        time.sleep(0.5)
