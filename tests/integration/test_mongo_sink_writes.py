"""MongoSink writes on a real server: inserts for new keys, and an insert that meets its key is an upsert."""

from __future__ import annotations

from datetime import UTC, datetime

from kafkaconsumer.reader import MongoReader
from kafkaconsumer.sink import MongoSink
from shared.sink import StoredTrade

from shared.schema import SAMPLE_TRADE, TradePayload

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def stored(new_key: bool, offset: int, **changes: object) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), 0, offset, NOW, new_key)


def test_insert_that_finds_its_key_stored_becomes_an_override(mongo_url: str, mongo_db_name: str) -> None:
    sink = MongoSink(mongo_url, mongo_db_name, "trades")
    reader = MongoReader(mongo_url, mongo_db_name, "trades")
    try:
        sink.setup()
        assert sink.upsert([stored(True, 1), stored(True, 2, version=2)]) == 2
        # a redelivery claiming the key is new (e.g. after a crash between write and commit)
        assert sink.upsert([stored(True, 3, counterparty_id="CP-NEW"), stored(True, 4, version=3)]) == 2
        trades = list(reader.iter_trades())
        assert [(t.version, t.counterparty_id) for t in trades] == [(1, "CP-NEW"), (2, "CP-1"), (3, "CP-1")]
        assert sink.collection.count_documents({}) == 3
    finally:
        sink.close()
        reader.close()


def test_stored_origins_name_the_record_each_key_was_written_from(mongo_url: str, mongo_db_name: str) -> None:
    sink = MongoSink(mongo_url, mongo_db_name, "trades")
    try:
        sink.setup()
        sink.upsert([stored(True, 7), stored(True, 8, version=2)])
        keys = {("T-1001", 1, "B-1"), ("T-1001", 2, "B-1"), ("T-1001", 9, "B-1")}
        assert sink.stored_origins(keys) == {("T-1001", 1, "B-1"): (0, 7), ("T-1001", 2, "B-1"): (0, 8)}
        assert sink.stored_origins(set()) == {}
    finally:
        sink.close()
