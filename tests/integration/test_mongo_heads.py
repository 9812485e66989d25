"""The MongoDB head guard across a partial write, on a real MongoDB-protocol server (nx-27017, or MONGO_URL):
a batch that raised its heads and stopped before its documents (a crash, a timeout, a failover) loses none
of its records when it is delivered again, while a late copy of an older version stays refused. The same
protocol on an in-memory collection: tests/unit/stores/test_mongo_writes.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.stores.mongo import MongoStore
from shared.stores.mongo_writes import admission, admit

NOW = datetime(2026, 11, 30, tzinfo=UTC)
Db = Database[dict[str, Any]]


def rec(version: int, offset: int, **changes: object) -> StoredTrade:
    payload = {**SAMPLE_TRADE, "trade_id": "T-LOST", "version": version, **changes}
    return StoredTrade(TradePayload.model_validate(payload), 3, offset, NOW)


def test_a_batch_whose_heads_were_raised_before_a_crash_writes_every_version_when_redelivered(
    mongo_store: MongoStore, mongo_db: Db
) -> None:
    batch = [rec(1, 10), rec(2, 11)]
    # the first half of a write: the head raised for both records, then the consumer died
    admit(mongo_db["trades_heads"], {"T-LOST": [admission(r) for r in batch]})
    head = mongo_db["trades_heads"].find_one({"_id": "T-LOST"})
    assert head is not None
    assert (head["version"], head["admitted"]) == (2, ["3:10", "3:11"])
    assert list(mongo_store.iter_trades()) == []

    result = mongo_store.write(batch)  # the redelivery
    assert (result.written, result.stale) == (2, {})
    assert sorted(t.version for t in mongo_store.iter_trades()) == [1, 2]

    late = mongo_store.write([rec(1, 40, counterparty_id="CP-LATE")])  # a late copy at another offset
    assert late.stale == {("T-LOST", 1, "B-1"): 2}
    assert [t.counterparty_id for t in mongo_store.iter_trades() if t.version == 1] == [
        SAMPLE_TRADE["counterparty_id"]
    ]
