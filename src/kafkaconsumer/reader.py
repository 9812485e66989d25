"""MongoReader: the read side of the MongoDB store (read API, regression checks, reconciliation, expiry).

Queries avoid nx-27017's gaps: no `$ne` on a field that may be missing (expiry matches `expired: false`),
and prefix filters are string ranges rather than regexes. nx-27017 stores a boolean written by `$set`
as the integer 1 (queries for `true` still match it), so documents are read through `_trade`, which
turns a 0/1 `expired` back into a bool; on MongoDB the value is already a bool.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.collection import Collection

from kafkaconsumer.mapper import from_document
from shared.reader import StoreSummary, prefix_upper_bound
from shared.schema import TradePayload
from shared.settings import Settings

_KEY_ORDER = [("trade_id", ASCENDING), ("version", ASCENDING), ("book_id", ASCENDING)]
_PROJECTION = {"_id": 0, "partition": 0, "offset": 0, "persisted_at": 0}


def _trade(doc: dict[str, Any]) -> TradePayload:
    expired = doc.get("expired")
    if isinstance(expired, int) and not isinstance(expired, bool) and expired in (0, 1):
        doc = {**doc, "expired": bool(expired)}
    return from_document(doc)


def _prefix_filter(prefix: str) -> dict[str, Any]:
    return {"trade_id": {"$gte": prefix, "$lt": prefix_upper_bound(prefix)}} if prefix else {}


class MongoReader:
    """Reads MONGO_DB.MONGO_COLLECTION; connects lazily."""

    name = "mongo"

    def __init__(self, url: str, database: str, collection: str, timeout_ms: int = 5000) -> None:
        self._client: MongoClient[dict[str, Any]] = MongoClient(
            url, serverSelectionTimeoutMS=timeout_ms, connect=False, tz_aware=True
        )
        self.collection: Collection[dict[str, Any]] = self._client[database][collection]

    @classmethod
    def from_settings(cls, settings: Settings) -> MongoReader:
        return cls(settings.mongo_url_value, settings.mongo_db, settings.mongo_collection)

    def summary(self, prefix: str = "") -> StoreSummary:
        match = _prefix_filter(prefix)
        per_book = {
            row["_id"]: row["n"]
            for row in self.collection.aggregate(
                [{"$match": match}, {"$group": {"_id": "$book_id", "n": {"$sum": 1}}}]
            )
        }
        latest = {
            row["_id"]: row["v"]
            for row in self.collection.aggregate(
                [{"$match": match}, {"$group": {"_id": "$trade_id", "v": {"$max": "$version"}}}]
            )
        }
        return StoreSummary(
            total=self.collection.count_documents(match),
            per_book=per_book,
            latest_version=latest,
            expired=self.collection.count_documents({**match, "expired": True}),
        )

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        for doc in self.collection.find(_prefix_filter(prefix), _PROJECTION).sort(_KEY_ORDER):
            yield _trade(doc)

    def versions(self, trade_id: str) -> list[TradePayload]:
        """Every stored version of a trade, highest first."""
        cursor = self.collection.find({"trade_id": trade_id}, _PROJECTION).sort(
            [("version", DESCENDING), ("book_id", ASCENDING)]
        )
        return [_trade(doc) for doc in cursor]

    def find(self, filters: dict[str, Any], limit: int, offset: int) -> tuple[list[TradePayload], int]:
        """A page of trades matching equality filters (book_id, counterparty_id, expired), and the total."""
        total = self.collection.count_documents(filters)
        cursor = self.collection.find(filters, _PROJECTION).sort(_KEY_ORDER).skip(offset).limit(limit)
        return [_trade(doc) for doc in cursor], total

    def expire(self, today: date) -> int:
        """Set-based and idempotent: flag every live trade whose maturity date is before today."""
        result = self.collection.update_many(
            {"maturity_date": {"$lt": today.isoformat()}, "expired": False}, {"$set": {"expired": True}}
        )
        return result.modified_count

    def ping(self) -> None:
        self._client.admin.command("ping")

    def close(self) -> None:
        self._client.close()
