"""MongoStore: the MongoDB adapter, and the only place TradeStore opens MongoDB (pymongo).

One client, one timeout (MONGO_TIMEOUT_MS), implementing the writer (consumer runtime), the reader (read
API) and the audit (regress, reconcile, expire) ports of shared.ports. Driver errors are translated in one
place (`_translate`): an unreachable server or a "retry later" answer is StoreUnavailable; a refusal of
the whole request is StoreRejected. The write is conditional on the trade's head: see mongo_writes.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from urllib.parse import unquote, urlsplit

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.collection import Collection as MongoCollection
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from shared.errors import StoreRejected, StoreUnavailable
from shared.ports import Key, StoredTrade, StoreSummary, TradeFilter, WriteResult
from shared.redact import redact_text, redact_url
from shared.schema import TradePayload
from shared.settings import Settings
from shared.stores.mongo_mapping import (
    READ_PROJECTION,
    Document,
    from_document,
    stored_from_document,
)
from shared.stores.mongo_writes import TRANSIENT_CODES, expire_matured, seed_heads, write_batch
from shared.stores.records import prefix_upper_bound, wanted_origins

log = logging.getLogger(__name__)

KEY_ORDER = [("trade_id", ASCENDING), ("version", ASCENDING), ("book_id", ASCENDING)]


def prefix_filter(prefix: str) -> Document:
    """trade_ids starting with `prefix`, as a string range (no regex: cheap, and index-friendly)."""
    if not prefix:
        return {}
    bound = prefix_upper_bound(prefix)
    return {"trade_id": {"$gte": prefix} if bound is None else {"$gte": prefix, "$lt": bound}}


class MongoStore:
    """Trades in MONGO_DB.MONGO_COLLECTION (unique on the business key), their heads in
    MONGO_COLLECTION_heads, and MONGO_COLLECTION_meta (whether the heads are complete). No I/O until a
    method is called."""

    name = "mongo"

    def __init__(self, url: str, database: str, collection: str, timeout_ms: int = 2000) -> None:
        self._url = url
        self.database = database
        self.collection_name = collection
        self.timeout_ms = timeout_ms
        self._client: MongoClient[Document] | None = None
        self._new_ids: set[str] = set()  # trade_ids the last max_versions found no version of

    @classmethod
    def from_settings(cls, settings: Settings) -> MongoStore:
        return cls(
            settings.mongo_url_value, settings.mongo_db, settings.mongo_collection, settings.mongo_timeout_ms
        )

    def _coll(self, suffix: str = "") -> MongoCollection[Document]:
        if self._client is None:  # connect lazily, never in __init__
            self._client = MongoClient(
                self._url,
                serverSelectionTimeoutMS=self.timeout_ms,
                connectTimeoutMS=self.timeout_ms,
                socketTimeoutMS=max(10_000, self.timeout_ms * 5),
                tz_aware=True,
            )
        return self._client[self.database][self.collection_name + suffix]

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """The one translation of driver errors into the ports' errors (messages without secrets)."""
        try:
            yield
        except (StoreUnavailable, StoreRejected):
            raise
        except PyMongoError as exc:
            text = (
                f"MongoDB at {redact_url(self._url)} {action}: {redact_text(str(exc), _secrets(self._url))}"
            )
            if isinstance(exc, ConnectionFailure) or _transient(exc):
                raise StoreUnavailable(text) from None
            if isinstance(exc, OperationFailure):
                raise StoreRejected(text[:500]) from None
            raise StoreUnavailable(text) from None

    # --- writer ------------------------------------------------------------------------------------
    def setup(self) -> None:
        """Unique index on the business key, (trade_id, version) for the max-version lookup, and the heads
        of trades stored before heads existed (seed_heads: once, resumed if it was interrupted)."""
        with self._translate("creating indexes"):
            coll = self._coll()
            coll.create_index(KEY_ORDER, unique=True, name="trade_key_unique")
            coll.create_index([("trade_id", ASCENDING), ("version", DESCENDING)], name="trade_version")
            seeded = seed_heads(coll, self._coll("_heads"), self._coll("_meta"))
        if seeded:
            log.info("mongo store: seeded the heads of %d trade_ids stored before heads existed", seeded)
        log.info("mongo store ready: %s %s.%s", redact_url(self._url), self.database, self.collection_name)

    def ping(self) -> None:
        with self._translate("ping"):
            self._coll().database.client.admin.command("ping")

    def max_versions(self, trade_ids: Collection[str]) -> dict[str, int]:
        """Highest stored version per trade_id. Every stored trade has a head (written before its documents,
        seeded for older ones), so the heads are read first, by `_id`; only the trade_ids that have one
        are looked up in the trades ($match on the ids, $group with $max). A new trade costs one indexed
        point read on the small heads collection, whatever the size of the trades."""
        if not trade_ids:
            return {}
        with self._translate("reading max versions"):
            ids = sorted(trade_ids)
            known = [d["_id"] for d in self._coll("_heads").find({"_id": {"$in": ids}}, {"_id": 1})]
            found = self._max_versions({"trade_id": {"$in": known}}) if known else {}
        self._new_ids = set(ids).difference(known)  # a hint for the next write (first heads)
        return found

    def _max_versions(self, match: Document) -> dict[str, int]:
        pipeline: list[Document] = [
            {"$match": match},
            {"$group": {"_id": "$trade_id", "max_version": {"$max": "$version"}}},
        ]
        return {str(d["_id"]): int(d["max_version"]) for d in self._coll().aggregate(pipeline)}

    def stored_origins(self, keys: Collection[Key]) -> dict[Key, tuple[int, int]]:
        """(partition, offset) each stored key was written from; one query on the trade_ids."""
        if not keys:
            return {}
        query = {"trade_id": {"$in": sorted({k[0] for k in keys})}}
        projection = {"_id": 0, "trade_id": 1, "version": 1, "book_id": 1, "partition": 1, "offset": 1}
        with self._translate("reading stored origins"):
            docs = list(self._coll().find(query, projection))
        rows = (((d["trade_id"], d["version"], d["book_id"]), (d["partition"], d["offset"])) for d in docs)
        return wanted_origins(rows, set(keys))

    def write(self, records: Sequence[StoredTrade]) -> WriteResult:
        """Conditional, idempotent write of a batch (shared.stores.mongo_writes)."""
        if not records:
            return WriteResult(written=0)
        with self._translate("writing trades"):
            return write_batch(self._coll(), self._coll("_heads"), records, self._new_ids)

    # --- reader ------------------------------------------------------------------------------------
    def versions(self, trade_id: str) -> list[StoredTrade]:
        """Every stored version of a trade, highest first."""
        order = [("version", DESCENDING), ("book_id", ASCENDING)]
        with self._translate("reading a trade"):
            return [stored_from_document(d) for d in self._coll().find({"trade_id": trade_id}).sort(order)]

    def find(self, filters: TradeFilter, limit: int, offset: int) -> tuple[list[StoredTrade], int]:
        """A page of trades matching the filters, in key order, and the total."""
        query = {
            k: v
            for k, v in (
                ("book_id", filters.book_id),
                ("counterparty_id", filters.counterparty_id),
                ("expired", filters.expired),
            )
            if v is not None
        }
        with self._translate("listing trades"):
            total = self._coll().count_documents(query)
            cursor = self._coll().find(query).sort(KEY_ORDER).skip(offset).limit(limit)
            return [stored_from_document(d) for d in cursor], total

    # --- audit -------------------------------------------------------------------------------------
    def summary(self, prefix: str = "") -> StoreSummary:
        match = prefix_filter(prefix)
        by_book: list[Document] = [{"$match": match}, {"$group": {"_id": "$book_id", "n": {"$sum": 1}}}]
        with self._translate("summarising"):
            coll = self._coll()
            return StoreSummary(
                total=coll.count_documents(match),
                per_book={row["_id"]: row["n"] for row in coll.aggregate(by_book)},
                latest_version=self._max_versions(match),
                expired=coll.count_documents({**match, "expired": True}),
            )

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        with self._translate("reading trades"):
            for doc in self._coll().find(prefix_filter(prefix), READ_PROJECTION).sort(KEY_ORDER):
                yield from_document(doc)

    def expire(self, today: date) -> int:
        """Idempotent: flag every live trade whose maturity date is before today (mongo_writes)."""
        with self._translate("expiring trades"):
            return expire_matured(self._coll(), today)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _secrets(url: str) -> list[str]:
    """The URL and its password, as written and percent-decoded: a driver message may echo any of them."""
    password = urlsplit(url).password
    return [url] if password is None else [url, password, unquote(password)]


def _transient(exc: PyMongoError) -> bool:
    code = getattr(exc, "code", None)
    labels = ("RetryableWriteError", "TransientTransactionError")
    return code in TRANSIENT_CODES or any(exc.has_error_label(label) for label in labels)
