"""Open both stores' audit ports from Settings (for the tools: regress, reconcile, expire)."""

from __future__ import annotations

from shared.ports import TradeAudit
from shared.settings import Settings
from shared.stores import open_audit


def open_readers(settings: Settings) -> list[TradeAudit]:
    """[MongoDB, SQL]; the caller closes them."""
    return [open_audit(settings, "mongo"), open_audit(settings, "sql")]
