"""Open both stores' readers from Settings (for the tools: regress, reconcile, expire)."""

from __future__ import annotations

from shared.reader import TradeReader
from shared.settings import Settings


def open_readers(settings: Settings) -> list[TradeReader]:
    """[MongoDB reader, SQL reader]; the caller closes them."""
    from kafkaconsumer.reader import MongoReader
    from shared.stores.sql import SqlStore

    return [MongoReader.from_settings(settings), SqlStore.from_settings(settings)]
