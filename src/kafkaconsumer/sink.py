"""MongoSink: the MongoDB adapter behind shared.sink.TradeSink (pymongo).

Why the version check cannot race: shared.kafka.TradeProducer partitions by trade_id, so every
version of a trade is in one partition, and one consumer of the group owns a partition at a time.
Reading max_versions and then writing the batch therefore happens with no other writer for those
trade_ids. (During a rebalance the old owner abandons its in-flight batch without committing.)
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.collection import Collection as MongoCollection
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)

from kafkaconsumer.mapper import upsert, writes
from shared.errors import StoreUnavailable
from shared.redact import redact_text, redact_url
from shared.settings import Settings
from shared.sink import Key, StoredTrade

log = logging.getLogger(__name__)

UNAVAILABLE = (AutoReconnect, ServerSelectionTimeoutError, ConnectionFailure, NetworkTimeout)
DUPLICATE_KEY = 11000


class MongoSink:
    """Trades in MONGO_DB.MONGO_COLLECTION, unique on (trade_id, version, book_id)."""

    name = "mongo"

    def __init__(
        self, url: str, database: str, collection: str, server_selection_timeout_ms: int = 2000
    ) -> None:
        self._url = url
        self.database = database
        self.collection_name = collection
        self.timeout_ms = server_selection_timeout_ms
        self._client: MongoClient[dict[str, Any]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> MongoSink:
        return cls(settings.mongo_url_value, settings.mongo_db, settings.mongo_collection)

    @property
    def collection(self) -> MongoCollection[dict[str, Any]]:
        if self._client is None:  # connect lazily (setup), never in __init__
            self._client = MongoClient(
                self._url,
                serverSelectionTimeoutMS=self.timeout_ms,
                connectTimeoutMS=self.timeout_ms,
                socketTimeoutMS=max(10_000, self.timeout_ms * 5),
                tz_aware=True,
            )
        return self._client[self.database][self.collection_name]

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        text = redact_text(str(exc), [self._url])
        return StoreUnavailable(f"MongoDB at {redact_url(self._url)} unavailable: {text}")

    def setup(self) -> None:
        """Unique index on the business key, and (trade_id, version) for the max-version lookup."""
        try:
            coll = self.collection
            coll.create_index(
                [("trade_id", ASCENDING), ("version", ASCENDING), ("book_id", ASCENDING)],
                unique=True,
                name="trade_key_unique",
            )
            coll.create_index([("trade_id", ASCENDING), ("version", DESCENDING)], name="trade_version")
        except UNAVAILABLE as exc:
            raise self._unavailable(exc) from None
        log.info("mongo sink ready: %s %s.%s", redact_url(self._url), self.database, self.collection_name)

    def ping(self) -> None:
        try:
            self.collection.database.client.admin.command("ping")
        except UNAVAILABLE as exc:
            raise self._unavailable(exc) from None

    def max_versions(self, trade_ids: Collection[str]) -> dict[str, int]:
        """Highest stored version per trade_id: $match on the ids, $group with $max."""
        if not trade_ids:
            return {}
        pipeline: list[dict[str, Any]] = [
            {"$match": {"trade_id": {"$in": sorted(trade_ids)}}},
            {"$group": {"_id": "$trade_id", "max_version": {"$max": "$version"}}},
        ]
        try:
            return {str(d["_id"]): int(d["max_version"]) for d in self.collection.aggregate(pipeline)}
        except UNAVAILABLE as exc:
            raise self._unavailable(exc) from None

    def stored_origins(self, keys: Collection[Key]) -> dict[Key, tuple[int, int]]:
        """(partition, offset) each stored key was written from; one query on the trade_ids."""
        if not keys:
            return {}
        wanted = set(keys)
        query = {"trade_id": {"$in": sorted({k[0] for k in wanted})}}
        projection = {"_id": 0, "trade_id": 1, "version": 1, "book_id": 1, "partition": 1, "offset": 1}
        try:
            docs = list(self.collection.find(query, projection))
        except UNAVAILABLE as exc:
            raise self._unavailable(exc) from None
        found = {(d["trade_id"], d["version"], d["book_id"]): (d["partition"], d["offset"]) for d in docs}
        return {k: v for k, v in found.items() if k in wanted}

    def upsert(self, records: Sequence[StoredTrade]) -> int:
        """One unordered bulk_write: inserts for new keys, ReplaceOne upserts for the rest.

        An insert whose key turned out to be stored (error 11000: a redelivery or a race) is replayed
        as an upsert, so the result is always that of upserting the whole batch.
        """
        pending = writes(records)
        written = 0
        for _attempt in range(3):
            if not pending:
                return written
            try:
                result = self.collection.bulk_write([op for op, _ in pending], ordered=False)
                return written + result.inserted_count + result.upserted_count + result.matched_count
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                details = exc.details
                written += (
                    details.get("nInserted", 0) + details.get("nUpserted", 0) + details.get("nMatched", 0)
                )
                pending = [(upsert(pending[e["index"]][1]), pending[e["index"]][1]) for e in errors]
            except UNAVAILABLE as exc:
                raise self._unavailable(exc) from None
        raise StoreUnavailable(
            f"MongoDB refused {len(pending)} writes with duplicate keys; retrying the batch"
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
