"""TradePayload -> MongoDB document, and the upsert operations of a batch.

Document shape (kept everywhere): every TradePayload field with its own type: version int,
expired bool, maturity_date and created_date as ISO strings "YYYY-MM-DD" (sortable, readable, and
what the JSON contract carries; BSON has no date-only type), plus ingestion metadata: partition
and offset (int) and persisted_at (BSON datetime, UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ReplaceOne

from shared.schema import TradePayload
from shared.sink import StoredTrade

KEY_FIELDS = ("trade_id", "version", "book_id")


def key_filter(trade: TradePayload) -> dict[str, Any]:
    """The business key (trade_id, version, book_id) as a query filter."""
    return {"trade_id": trade.trade_id, "version": trade.version, "book_id": trade.book_id}


def to_document(record: StoredTrade) -> dict[str, Any]:
    """The stored document of one trade (no `_id`: the server keeps the one it assigned)."""
    t = record.trade
    return {
        "trade_id": t.trade_id,
        "counterparty_id": t.counterparty_id,
        "book_id": t.book_id,
        "version": t.version,
        "maturity_date": t.maturity_date.isoformat(),
        "created_date": t.created_date.isoformat(),
        "expired": t.expired,
        "partition": record.partition,
        "offset": record.offset,
        "persisted_at": record.persisted_at,
    }


def from_document(doc: dict[str, Any]) -> TradePayload:
    """The TradePayload a stored document holds (metadata and `_id` ignored)."""
    return TradePayload.model_validate({k: doc[k] for k in TradePayload.model_fields})


def upserts(records: Sequence[StoredTrade]) -> list[ReplaceOne[dict[str, Any]]]:
    """One ReplaceOne(upsert) per business key; a key seen twice in a batch keeps its latest record."""
    latest: dict[tuple[str, int, str], StoredTrade] = {}
    for record in records:
        latest[record.trade.key] = record
    return [ReplaceOne(key_filter(r.trade), to_document(r), upsert=True) for r in latest.values()]
