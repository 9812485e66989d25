"""The store adapters behind shared.ports, opened by kind: "mongo" (shared.stores.mongo.MongoStore) or
"sql" (shared.stores.sql). One adapter per store, one client each; each implements the writer (consumer
runtime), the reader (read API) and the audit (operator tools). Adapters are imported on first use, so a
process needs only its own store's driver.
"""

from __future__ import annotations

from typing import Literal, Protocol

from shared.ports import TradeAudit, TradeReader, TradeWriter
from shared.settings import Settings

StoreKind = Literal["mongo", "sql"]
KINDS: tuple[StoreKind, ...] = ("mongo", "sql")


class Store(TradeWriter, TradeReader, TradeAudit, Protocol):
    """What every adapter is: all three ports at once (for typing the factories)."""


def open_store(settings: Settings, kind: str) -> Store:
    """A new, unconnected adapter of `kind`; the caller closes it."""
    if kind == "mongo":
        from shared.stores.mongo import MongoStore

        return MongoStore.from_settings(settings)
    if kind == "sql":
        from shared.stores.sql import SqlStore

        return SqlStore.from_settings(settings)
    raise ValueError(f"unknown store {kind!r}; expected one of {', '.join(KINDS)}")


def open_writer(settings: Settings, kind: str) -> TradeWriter:
    """The store the consumer runtime writes through."""
    return open_store(settings, kind)


def open_reader(settings: Settings, kind: str) -> TradeReader:
    """The store the read API reads through."""
    return open_store(settings, kind)


def open_audit(settings: Settings, kind: str) -> TradeAudit:
    """The store the operator tools (regress, reconcile, expire) audit through."""
    return open_store(settings, kind)
