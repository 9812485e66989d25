"""StoredTrade <-> MongoDB document, and the write operations of a batch.

Document shape: every TradePayload field with its own type (version int, expired bool, maturity_date and
created_date as ISO strings "YYYY-MM-DD": sortable, readable, what the JSON contract carries; BSON has no
date-only type), plus ingestion metadata: partition and offset (int), persisted_at (BSON datetime, UTC)
and principal (who submitted it, or null). `_id` is the business key as a JSON array string
(`["T-1",2,"B-1"]`): unambiguous whatever the ids hold, and it makes every write an upsert on `_id`,
the cheapest lookup on MongoDB and the only indexed one on nx-27017 (docs/nx-27017-gaps.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from pymongo import InsertOne, ReplaceOne, UpdateOne

from shared.ports import Key, StoredTrade
from shared.schema import TradePayload

Document = dict[str, Any]
KEY_FIELDS = ("trade_id", "version", "book_id")
# What reads return: the payload, where it came from, when and from whom (never `_id`).
READ_PROJECTION = {"_id": 0}


def doc_id(key: Key) -> str:
    """The `_id` of the document of business key (trade_id, version, book_id)."""
    return orjson.dumps(list(key)).decode()


def key_filter(key: Key) -> Document:
    """The business key (trade_id, version, book_id) as a query filter."""
    return {"trade_id": key[0], "version": key[1], "book_id": key[2]}


def to_document(record: StoredTrade) -> Document:
    """The stored document of one trade, `_id` included."""
    t = record.trade
    return {
        "_id": doc_id(record.key),
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
        "principal": record.principal,
    }


def from_document(doc: Mapping[str, Any]) -> TradePayload:
    """The TradePayload a stored document holds (metadata and `_id` ignored)."""
    return TradePayload.model_validate({k: doc[k] for k in TradePayload.model_fields})


def stored_from_document(doc: Mapping[str, Any]) -> StoredTrade:
    """The StoredTrade a document holds (the read API's view: payload, origin, time, principal)."""
    return StoredTrade(
        from_document(doc),
        int(doc.get("partition", 0)),
        int(doc.get("offset", 0)),
        doc["persisted_at"],
        doc.get("principal"),
    )


def replace_by_id(record: StoredTrade) -> ReplaceOne[Document]:
    """Upsert the record's document on `_id` (the usual write)."""
    document = to_document(record)
    return ReplaceOne({"_id": document["_id"]}, document, upsert=True)


def replace_by_key(record: StoredTrade) -> ReplaceOne[Document]:
    """Upsert on the business key, keeping the stored `_id`: for a document stored before `_id` was the
    key (an ObjectId), which the `_id` upsert meets as a duplicate key on the unique index."""
    document = to_document(record)
    del document["_id"]
    return ReplaceOne(key_filter(record.key), document, upsert=True)


class Admission(NamedTuple):
    """One record of a trade that a batch asks its head to admit: its version and its place in the log
    (`"partition:offset"`; None for a head seeded from stored documents, which no record re-delivers)."""

    version: int
    origin: str | None = None


class Head(NamedTuple):
    """A trade's head as read: the highest admitted version and the records that admitted it."""

    version: int
    admitted: frozenset[str] = frozenset()

    @classmethod
    def of(cls, doc: Mapping[str, Any] | None) -> Head:
        if doc is None:
            return cls(-1)
        return cls(int(doc["version"]), frozenset(doc.get("admitted") or ()))

    def refuses(self, record: Admission) -> bool:
        """Below the head and not one of the records the head was raised for (those stay admitted: a batch
        that raised the head and failed before its documents were written writes them when re-delivered)."""
        return record.version < self.version and record.origin not in self.admitted


def head_marks(records: Sequence[Admission]) -> Document:
    """What a raise stores beside the version: the origins of the records it admits."""
    return {"admitted": sorted({r.origin for r in records if r.origin is not None})}


def raise_head(trade_id: str, low: int, top: int, marks: Document | None = None) -> UpdateOne:
    """Raise the trade's head (highest admitted version) to `top`, provided it is at most `low` (the
    lowest version about to be written), and record which records it admits (`marks`). A higher head
    makes the upsert insert a second `_id` and fail with a duplicate key: that failure is the refusal
    (see shared.stores.mongo_writes)."""
    update: Document = {"$max": {"version": top}}
    if marks:
        update["$set"] = marks
    return UpdateOne({"_id": trade_id, "version": {"$lte": low}}, update, upsert=True)


def insert_head(trade_id: str, top: int, marks: Document | None = None) -> InsertOne[Document]:
    """The first head of a trade: `top` admitted. When a head exists already, the insert fails with a
    duplicate key and the head is read and raised like any other (see shared.stores.mongo_writes)."""
    return InsertOne({"_id": trade_id, "version": top, **(marks or {})})
