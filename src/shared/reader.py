"""What the tools (read API, regression runner, reconciliation, expiry) need from a store.

Both stores implement it: kafkaconsumer.reader.MongoReader and shared.stores.sql.SqlStore.
Queries can be limited to trade_ids starting with a prefix, so a run can check only its own trades.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Protocol

from shared import ports
from shared.schema import TradePayload

Key = tuple[str, int, str]


StoreSummary = ports.StoreSummary  # one class for both ports while this module is phased out


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (for range queries)."""
    return prefix + "\U0010ffff"


class TradeReader(Protocol):
    """Read and maintenance access to one store of trades."""

    name: str

    def summary(self, prefix: str = "") -> StoreSummary:
        """Total, per-book counts, latest version per trade_id and expired count, for matching trade_ids."""
        ...

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        """Every stored trade (payload fields only), ordered by key."""
        ...

    def expire(self, today: date) -> int:
        """Set expired=true on every trade with maturity_date < today that is not yet expired; the count."""
        ...

    def close(self) -> None: ...
