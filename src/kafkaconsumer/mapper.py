"""TradePayload -> MongoDB document, and the upsert operations of a batch.

Document shape (kept everywhere): every TradePayload field with its own type: version int,
expired bool, maturity_date and created_date as ISO strings "YYYY-MM-DD" (sortable, readable, and
what the JSON contract carries; BSON has no date-only type), plus ingestion metadata: partition
and offset (int) and persisted_at (BSON datetime, UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import InsertOne, ReplaceOne

from shared.schema import TradePayload
from shared.sink import StoredTrade

KEY_FIELDS = ("trade_id", "version", "book_id")
WriteOp = InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]]


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
    return [upsert(r) for r, _ in _latest(records)]


def writes(records: Sequence[StoredTrade]) -> list[tuple[WriteOp, StoredTrade]]:
    """The batch's writes, each with its record: InsertOne for keys that cannot be stored yet, else upserts.

    Inserting is what keeps nx-27017 fast: its upsert scans the collection (measured: 914 upserts/s at
    1,000 documents, 127/s at 6,000, while insert_many stays at 2,000-4,000/s). A key is inserted
    only when the version rule saw a version above every stored one; the sink turns an insert that
    hits the unique index (a redelivery or a race) into an upsert, so the outcome is always the upsert's.
    """
    return [(InsertOne(to_document(r)) if new else upsert(r), r) for r, new in _latest(records)]


def upsert(record: StoredTrade) -> ReplaceOne[dict[str, Any]]:
    return ReplaceOne(key_filter(record.trade), to_document(record), upsert=True)


def _latest(records: Sequence[StoredTrade]) -> list[tuple[StoredTrade, bool]]:
    """The latest record per key, and whether the key was new before the batch (any record said so)."""
    latest: dict[tuple[str, int, str], StoredTrade] = {}
    new: dict[tuple[str, int, str], bool] = {}
    for record in records:
        key = record.trade.key
        latest[key] = record
        new[key] = new.get(key, False) or record.new_key
    return [(record, new[key]) for key, record in latest.items()]
