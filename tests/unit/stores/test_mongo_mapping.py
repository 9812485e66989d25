"""StoredTrade -> MongoDB document mapping, and the write operations built for a batch."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pymongo import ReplaceOne, UpdateOne

from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.stores.mongo_mapping import (
    doc_id,
    from_document,
    key_filter,
    raise_head,
    replace_by_id,
    replace_by_key,
    stored_from_document,
    to_document,
)
from shared.stores.records import latest_per_key

NOW = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def stored(offset: int = 7, principal: str | None = None, **changes: object) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), 2, offset, NOW, principal)


def test_document_has_every_field_with_its_type_ingestion_metadata_and_the_key_as_id() -> None:
    doc = to_document(stored(principal="key-1"))
    assert doc == {
        "_id": '["T-1001",1,"B-1"]',
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
        "principal": "key-1",
    }


def test_the_id_of_a_key_is_unambiguous_whatever_the_ids_hold() -> None:
    assert doc_id(("a,1", 2, "b")) != doc_id(("a", 1, '2,"b'))
    assert doc_id(("T", 1, "B")) == '["T",1,"B"]'


def test_document_round_trips_to_the_payload_and_the_stored_trade() -> None:
    record = stored(expired=True, principal="sub-9")
    assert from_document(to_document(record)) == record.trade
    assert from_document(to_document(record)).maturity_date == date(2026, 1, 15)
    assert stored_from_document(to_document(record)) == record


def test_the_usual_write_is_a_replace_upserted_on_the_id() -> None:
    op = replace_by_id(stored())
    assert isinstance(op, ReplaceOne)
    assert op._filter == {"_id": '["T-1001",1,"B-1"]'}
    assert op._upsert is True


def test_a_document_stored_with_another_id_is_replaced_on_the_business_key() -> None:
    op = replace_by_key(stored())
    assert op._filter == {"trade_id": "T-1001", "version": 1, "book_id": "B-1"} == key_filter(stored().key)
    assert "_id" not in op._doc


def test_a_head_is_raised_to_the_top_only_from_at_or_below_the_lowest_version() -> None:
    op = raise_head("T-1", 2, 3)
    assert isinstance(op, UpdateOne)
    assert op._filter == {"_id": "T-1", "version": {"$lte": 2}}
    assert op._doc == {"$max": {"version": 3}}
    assert op._upsert is True


def test_same_key_twice_in_a_batch_keeps_the_latest_record() -> None:
    batch = latest_per_key(
        [stored(1, counterparty_id="CP-1"), stored(2, counterparty_id="CP-2"), stored(3, book_id="B-2")]
    )
    assert [(r.offset, r.trade.counterparty_id) for r in batch] == [(2, "CP-2"), (3, "CP-1")]
    assert latest_per_key([]) == []


def test_a_document_without_origin_or_principal_reads_as_partition_0_offset_0_and_nobody() -> None:
    doc = to_document(stored(offset=9, principal="key-1"))
    for name in ("partition", "offset", "principal"):
        del doc[name]
    read = stored_from_document(doc)
    assert (read.partition, read.offset, read.principal) == (0, 0, None)
    assert read.persisted_at == NOW
    assert read.trade == stored().trade
