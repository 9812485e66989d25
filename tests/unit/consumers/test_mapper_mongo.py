"""Trade JSON -> MongoDB document mapping, and the upsert operations built for a batch."""

from __future__ import annotations

from datetime import UTC, date, datetime

from kafkaconsumer.mapper import from_document, key_filter, to_document, upserts
from pymongo import ReplaceOne
from shared.sink import StoredTrade

from shared.schema import SAMPLE_TRADE, TradePayload

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def stored(offset: int = 7, **changes: object) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), 2, offset, NOW)


def test_document_has_every_field_with_its_type_and_ingestion_metadata() -> None:
    doc = to_document(stored())
    assert doc == {
        "trade_id": "T-1001",
        "counterparty_id": "CP-1",
        "book_id": "B-1",
        "version": 1,
        "maturity_date": "2026-01-15",
        "created_date": "2025-09-28",
        "expired": False,
        "partition": 2,
        "offset": 7,
        "persisted_at": NOW,
    }
    assert "_id" not in doc


def test_document_round_trips_to_the_payload() -> None:
    record = stored(expired=True)
    assert from_document({**to_document(record), "_id": "x"}) == record.trade
    assert from_document(to_document(record)).maturity_date == date(2026, 1, 15)


def test_upsert_is_a_replace_keyed_on_trade_id_version_book_id() -> None:
    [op] = upserts([stored()])
    assert isinstance(op, ReplaceOne)
    assert op._filter == {"trade_id": "T-1001", "version": 1, "book_id": "B-1"}
    assert op._upsert is True
    assert key_filter(stored().trade) == op._filter


def test_same_key_twice_in_a_batch_keeps_the_latest_record() -> None:
    ops = upserts(
        [stored(1, counterparty_id="CP-1"), stored(2, counterparty_id="CP-2"), stored(3, book_id="B-2")]
    )
    assert len(ops) == 2
    assert ops[0]._doc["counterparty_id"] == "CP-2"
    assert ops[0]._doc["offset"] == 2


def test_empty_batch_builds_no_operation() -> None:
    assert upserts([]) == []


def test_new_keys_are_inserted_and_known_keys_upserted() -> None:
    from kafkaconsumer.mapper import writes
    from pymongo import InsertOne, ReplaceOne

    fresh = StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, "version": 2}), 0, 1, NOW, new_key=True)
    known = StoredTrade(TradePayload.model_validate(SAMPLE_TRADE), 0, 2, NOW, new_key=False)
    (op1, r1), (op2, r2) = writes([fresh, known])
    assert isinstance(op1, InsertOne)
    assert r1 is fresh
    assert isinstance(op2, ReplaceOne)
    assert r2 is known


def test_a_key_new_before_the_batch_stays_an_insert_with_its_latest_record() -> None:
    from kafkaconsumer.mapper import writes
    from pymongo import InsertOne

    first = StoredTrade(TradePayload.model_validate(SAMPLE_TRADE), 0, 1, NOW, new_key=True)
    again = StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, "counterparty_id": "CP-2"}), 0, 2, NOW)
    [(op, record)] = writes([first, again])
    assert isinstance(op, InsertOne)
    assert record is again
