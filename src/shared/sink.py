"""What a store must offer the consumer runtime: the port both sinks (MongoDB, SQL) implement.

Every method that talks to the store raises shared.errors.StoreUnavailable when the store cannot
be reached; the runtime then retries the same batch with backoff and commits nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.schema import TradePayload

Key = tuple[str, int, str]


@dataclass(frozen=True)
class StoredTrade:
    """A trade as persisted: the payload plus ingestion metadata (where it came from, when stored)."""

    trade: TradePayload
    partition: int
    offset: int
    persisted_at: datetime
    # True when the version is above every version stored for the trade_id before this batch, so the
    # key cannot be stored yet: a sink may insert instead of upsert (and must fall back on a conflict).
    new_key: bool = False


class TradeSink(Protocol):
    """A store of trades keyed on (trade_id, version, book_id)."""

    name: str

    def setup(self) -> None:
        """Create indexes / schema when missing (idempotent)."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers now."""

    def max_versions(self, trade_ids: Collection[str]) -> dict[str, int]:
        """The highest stored version of each given trade_id that has any stored version."""
        ...

    def stored_origins(self, keys: Collection[Key]) -> dict[Key, tuple[int, int]]:
        """For each given key that is stored: the (partition, offset) of the record it was written from."""
        ...

    def upsert(self, records: Sequence[StoredTrade]) -> int:
        """Write the batch idempotently keyed on (trade_id, version, book_id); same key overrides."""
        ...

    def close(self) -> None:
        """Release connections."""
