"""The small typed protocols TradeStore talks through, and the plain values that cross them.

- TradeWriter: what the consumer runtime writes through (both sinks implement it).
- TradeReader: what the HTTP API reads through.
- TradeAudit: what the operator tools (regress, reconcile, expire) audit through.
One adapter per store (shared.stores.mongo, shared.stores.sql) implements all three with one client.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple, Protocol

from shared.schema import TradePayload

Key = tuple[str, int, str]  # (trade_id, version, book_id): the business key of a record


class StoredTrade(NamedTuple):
    """A trade as persisted: the payload plus where it came from, when it was stored and who submitted it.

    Immutable; a NamedTuple, not a frozen dataclass: a sink builds one per record it writes, in a third of
    the time (~0.3 against ~1 us, issue 14)."""

    trade: TradePayload
    partition: int
    offset: int
    persisted_at: datetime
    principal: str | None = None  # key id or token subject that submitted it (provenance), when known

    @property
    def key(self) -> Key:
        return (self.trade.trade_id, self.trade.version, self.trade.book_id)


@dataclass(frozen=True)
class WriteResult:
    """What a store did with a batch: every record is in exactly one of the three outcomes."""

    written: int  # records the store now holds as sent (inserted, overridden or already identical)
    stale: dict[Key, int] = field(default_factory=dict)  # refused by the in-store version guard: key -> max
    refused: dict[Key, str] = field(default_factory=dict)  # refused deterministically: key -> store's reason


@dataclass(frozen=True)
class TradeFilter:
    """Filters of the read API's listing; None means "any"."""

    book_id: str | None = None
    counterparty_id: str | None = None
    expired: bool | None = None


@dataclass(frozen=True)
class StoreSummary:
    """Counts and aggregations computed by the store itself."""

    total: int
    per_book: dict[str, int] = field(default_factory=dict)
    latest_version: dict[str, int] = field(default_factory=dict)
    expired: int = 0


class TradeWriter(Protocol):
    """What the consumer runtime writes through. Every call that cannot reach the store raises
    shared.errors.StoreUnavailable (the batch is retried, never skipped); a batch the store refuses
    deterministically without naming the record raises shared.errors.StoreRejected (the runtime
    splits the batch to isolate the record)."""

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

    def write(self, records: Sequence[StoredTrade]) -> WriteResult:
        """Write idempotently keyed on (trade_id, version, book_id), never below a stored higher version."""
        ...

    def close(self) -> None:
        """Release connections."""


class TradeReader(Protocol):
    """What the HTTP API reads through."""

    name: str

    def versions(self, trade_id: str) -> list[StoredTrade]:
        """Every stored record of a trade_id, highest version first (empty when none)."""
        ...

    def find(self, filters: TradeFilter, limit: int, offset: int) -> tuple[list[StoredTrade], int]:
        """One page of stored records ordered by key, and the total count matching the filters."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class TradeAudit(Protocol):
    """What the operator tools audit through; `prefix` limits a call to trade_ids starting with it."""

    name: str

    def summary(self, prefix: str = "") -> StoreSummary:
        """Total, per-book counts, latest version per trade_id and expired count."""
        ...

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        """Every stored trade, ordered by key in code-point order (as Python compares strings)."""
        ...

    def expire(self, today: date) -> int:
        """Set expired=true on every trade with maturity_date < today not yet expired; the count."""
        ...

    def close(self) -> None: ...
