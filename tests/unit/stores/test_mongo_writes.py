"""shared.stores.mongo_writes on an in-memory collection (unit.stores.mongo_fake): the head protocol (first
heads inserted, raises, stale versions, collisions), per-document refusals and how server errors are
classified and reported. The same protocol runs on nx-27017 in tests/integration/test_mongo_store.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo import InsertOne, UpdateOne

from shared.errors import StoreUnavailable
from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.stores.mongo_mapping import Admission, Head, doc_id
from shared.stores.mongo_writes import HEAD_ATTEMPTS, admit, expire_matured, seed_heads, write_batch
from unit.stores.mongo_fake import FakeCollection

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def rec(trade_id: str = "T-1", version: int = 1, offset: int = 0, **changes: object) -> StoredTrade:
    payload = {**SAMPLE_TRADE, "trade_id": trade_id, "version": version, **changes}
    return StoredTrade(TradePayload.model_validate(payload), 0, offset, NOW)


def stores() -> tuple[FakeCollection, FakeCollection]:
    return FakeCollection(unique_key=True), FakeCollection()


def asks(*versions: int) -> list[Admission]:
    """A batch's records of one trade: the given versions at offsets 0, 1, 2... of partition 0."""
    return [Admission(v, f"0:{i}") for i, v in enumerate(versions)]


def head_of(heads: FakeCollection, trade_id: str) -> int:
    return int(heads.docs[trade_id]["version"])


# --- first heads: one insert for trade_ids believed new ----------------------------------------------------
def test_new_trade_ids_get_their_head_inserted_at_the_batch_top_then_their_documents() -> None:
    trades, heads = stores()
    batch = [rec("T-1", 1, 0), rec("T-1", 3, 1), rec("T-2", 2, 2)]
    result = write_batch(trades, heads, batch, {"T-1", "T-2"})  # type: ignore[arg-type]
    assert (result.written, result.stale, result.refused) == (3, {}, {})
    assert heads.kinds(0) == ["InsertOne", "InsertOne"]
    assert heads.docs == {
        "T-1": {"_id": "T-1", "version": 3, "admitted": ["0:0", "0:1"]},
        "T-2": {"_id": "T-2", "version": 2, "admitted": ["0:2"]},
    }
    assert len(heads.calls) == 1  # one round
    assert sorted(trades.docs) == sorted(doc_id(r.key) for r in batch)


def test_without_the_hint_heads_are_raised_conditionally_on_the_lowest_version() -> None:
    trades, heads = stores()
    write_batch(trades, heads, [rec("T-1", 2, 0), rec("T-1", 5, 1)])  # type: ignore[arg-type]
    (op,) = heads.calls[0]
    assert isinstance(op, UpdateOne)
    assert op._filter == {"_id": "T-1", "version": {"$lte": 2}}
    assert op._doc == {"$max": {"version": 5}, "$set": {"admitted": ["0:0", "0:1"]}}
    assert op._upsert is True
    assert head_of(heads, "T-1") == 5


def test_only_the_hinted_trade_ids_are_inserted() -> None:
    trades, heads = stores()
    heads.docs["T-OLD"] = {"_id": "T-OLD", "version": 1}
    write_batch(trades, heads, [rec("T-NEW", 1), rec("T-OLD", 2)], {"T-NEW"})  # type: ignore[arg-type]
    assert heads.kinds(0) == ["InsertOne", "UpdateOne"]
    assert (head_of(heads, "T-NEW"), head_of(heads, "T-OLD")) == (1, 2)
    assert len(heads.calls) == 1


def test_a_wrong_hint_over_a_higher_head_makes_the_lower_versions_stale_and_raises_for_the_rest() -> None:
    trades, heads = stores()
    heads.docs["T-1"] = {"_id": "T-1", "version": 3}  # admitted by another writer (or before a crash)
    batch = [rec("T-1", 2, 0), rec("T-1", 3, 1), rec("T-1", 4, 2)]
    result = write_batch(trades, heads, batch, {"T-1"})  # type: ignore[arg-type]
    assert result.stale == {("T-1", 2, "B-1"): 3}
    assert result.written == 2
    assert heads.kinds(0) == ["InsertOne"]
    assert heads.kinds(1) == ["UpdateOne"]  # the retry raises; it never inserts again
    assert heads.calls[1][0]._filter == {"_id": "T-1", "version": {"$lte": 3}}
    assert head_of(heads, "T-1") == 4
    assert sorted(trades.docs) == sorted(doc_id(r.key) for r in batch[1:])


def test_a_wrong_hint_over_a_head_at_or_below_the_batch_admits_every_version() -> None:
    trades, heads = stores()
    heads.docs["T-1"] = {"_id": "T-1", "version": 2}
    result = write_batch(trades, heads, [rec("T-1", 2, 0), rec("T-1", 5, 1)], {"T-1"})  # type: ignore[arg-type]
    assert (result.written, result.stale) == (2, {})
    assert head_of(heads, "T-1") == 5
    assert [type(op) for call in heads.calls for op in call] == [InsertOne, UpdateOne]


def test_a_wrong_hint_over_a_head_above_the_whole_batch_writes_nothing() -> None:
    trades, heads = stores()
    heads.docs["T-1"] = {"_id": "T-1", "version": 9}
    result = write_batch(trades, heads, [rec("T-1", 2, 0), rec("T-1", 5, 1)], {"T-1"})  # type: ignore[arg-type]
    assert result.stale == {("T-1", 2, "B-1"): 9, ("T-1", 5, "B-1"): 9}
    assert result.written == 0
    assert trades.docs == {}
    assert trades.calls == []
    assert len(heads.calls) == 1
    assert head_of(heads, "T-1") == 9


def test_a_head_equal_to_the_batch_admits_it_again() -> None:
    trades, heads = stores()
    heads.docs["T-1"] = {"_id": "T-1", "version": 4}
    result = write_batch(trades, heads, [rec("T-1", 4, 0)])  # type: ignore[arg-type]
    assert (result.written, result.stale) == (1, {})
    assert head_of(heads, "T-1") == 4


def test_a_higher_head_found_on_a_raise_is_reported_for_the_versions_below_it() -> None:
    _, heads = stores()
    heads.docs["T-1"] = {"_id": "T-1", "version": 4}
    assert admit(heads, {"T-1": asks(3, 4, 6)}) == {"T-1": Head(4)}  # type: ignore[arg-type]
    assert head_of(heads, "T-1") == 6
    assert admit(heads, {"T-1": asks(6)}) == {}  # type: ignore[arg-type]


def test_heads_that_keep_colliding_are_a_transient_failure_after_the_last_attempt() -> None:
    _, heads = stores()
    heads.refuse = lambda op: {"code": 11000, "errmsg": "dup"}  # a head that never shows up when read
    with pytest.raises(StoreUnavailable, match="heads of 1 trade_ids kept colliding"):
        admit(heads, {"T-1": asks(1)}, {"T-1"})  # type: ignore[arg-type]
    assert len(heads.calls) == HEAD_ATTEMPTS + 1
    assert heads.kinds(0) == ["InsertOne"]
    assert heads.kinds(HEAD_ATTEMPTS) == ["UpdateOne"]


def test_a_collision_then_a_free_head_is_admitted_on_the_retry() -> None:
    _, heads = stores()
    refusals = iter([{"code": 11000, "errmsg": "race"}])
    heads.refuse = lambda op: next(refusals, None)
    assert admit(heads, {"T-1": asks(2, 3)}, {"T-1"}) == {}  # type: ignore[arg-type]
    assert head_of(heads, "T-1") == 3
    assert heads.calls[1][0]._filter == {"_id": "T-1", "version": {"$lte": 2}}


def test_an_empty_batch_touches_nothing() -> None:
    trades, heads = stores()
    assert write_batch(trades, heads, [], {"T-1"}).written == 0  # type: ignore[arg-type]
    assert (trades.calls, heads.calls) == ([], [])


# --- documents: idempotent upserts on _id, refusals per record ----------------------------------------------
def test_the_same_batch_twice_stores_each_key_once_with_the_latest_content() -> None:
    trades, heads = stores()
    write_batch(trades, heads, [rec("T-1", 1, 0)], {"T-1"})  # type: ignore[arg-type]
    again = write_batch(trades, heads, [rec("T-1", 1, 5, counterparty_id="CP-9")], {"T-1"})  # type: ignore[arg-type]
    assert again.written == 1
    (doc,) = trades.docs.values()
    assert (doc["offset"], doc["counterparty_id"]) == (5, "CP-9")


def test_a_document_stored_under_another_id_is_replaced_on_its_business_key() -> None:
    trades, heads = stores()
    legacy = {k: v for k, v in rec("T-1", 1).trade.model_dump(mode="json").items()}
    trades.docs["oid-1"] = {"_id": "oid-1", **legacy, "offset": 0}
    result = write_batch(trades, heads, [rec("T-1", 1, 7)])  # type: ignore[arg-type]
    assert result.written == 1
    assert list(trades.docs) == ["oid-1"]
    assert trades.docs["oid-1"]["offset"] == 7
    assert trades.kinds(1) == ["ReplaceOne"]
    assert "_id" not in trades.calls[1][0]._doc


def test_a_document_the_server_refuses_is_refused_with_its_code_and_message() -> None:
    trades, heads = stores()
    long_message = "Document failed validation " + "x" * 400
    trades.refuse = lambda op: {"code": 121, "errmsg": long_message} if "T-BAD" in str(op._filter) else None
    result = write_batch(trades, heads, [rec("T-OK", 1), rec("T-BAD", 1)])  # type: ignore[arg-type]
    assert result.written == 1
    assert result.refused == {("T-BAD", 1, "B-1"): f"MongoDB error 121: {long_message[:300]}"}


def test_a_refusal_without_a_message_still_names_the_code() -> None:
    trades, heads = stores()
    trades.refuse = lambda op: {"code": 121}
    result = write_batch(trades, heads, [rec("T-1", 1)])  # type: ignore[arg-type]
    assert result.refused == {("T-1", 1, "B-1"): "MongoDB error 121: "}


def test_a_document_refused_again_on_its_business_key_is_refused() -> None:
    trades, heads = stores()
    # the _id upsert meets the unique business key (11000), the upsert on the key is refused (121)
    trades.refuse = lambda op: {"code": 11000} if "_id" in op._filter else {"code": 121, "errmsg": "no"}
    result = write_batch(trades, heads, [rec("T-1", 1)])  # type: ignore[arg-type]
    assert result.refused == {("T-1", 1, "B-1"): "MongoDB error 121: no"}


# --- server errors: transient ones raise StoreUnavailable with the server's words ---------------------------
def errors(*codes: int) -> dict[str, Any]:
    return {
        "writeErrors": [{"index": i, "code": c, "errmsg": f"message {i}"} for i, c in enumerate(codes)],
        "writeConcernErrors": [],
    }


@pytest.mark.parametrize("target", ["trades", "heads"])
def test_a_write_concern_error_is_transient_and_named(target: str) -> None:
    trades, heads = stores()
    fake = trades if target == "trades" else heads
    fake.details = {
        "writeErrors": [],
        "writeConcernErrors": [{"code": 64, "errmsg": "first"}, {"errmsg": "2"}],
    }
    with pytest.raises(StoreUnavailable) as caught:
        write_batch(trades, heads, [rec()])  # type: ignore[arg-type]
    assert str(caught.value) == "write concern not met: {'code': 64, 'errmsg': 'first'}"


def test_a_transient_code_on_a_document_is_store_unavailable_naming_the_first() -> None:
    trades, heads = stores()
    trades.details = errors(91, 11600)
    with pytest.raises(StoreUnavailable) as caught:
        write_batch(trades, heads, [rec("T-1"), rec("T-2")])  # type: ignore[arg-type]
    assert str(caught.value) == "MongoDB asked to retry: MongoDB error 91: message 0"


def test_a_transient_code_on_a_head_is_store_unavailable() -> None:
    trades, heads = stores()
    heads.details = errors(11000, 189)
    with pytest.raises(StoreUnavailable) as caught:
        write_batch(trades, heads, [rec("T-1"), rec("T-2")])  # type: ignore[arg-type]
    assert str(caught.value) == "MongoDB asked to retry: MongoDB error 189: message 1"
    assert trades.calls == []


def test_any_other_head_failure_is_store_unavailable_and_no_document_is_written() -> None:
    trades, heads = stores()
    heads.details = errors(11000, 121, 2)
    with pytest.raises(StoreUnavailable) as caught:
        write_batch(trades, heads, [rec("T-1"), rec("T-2"), rec("T-3")])  # type: ignore[arg-type]
    assert str(caught.value) == "raising trade heads failed: MongoDB error 121: message 1"
    assert trades.calls == []


# --- expiry ------------------------------------------------------------------------------------------------
def test_expiry_flags_only_live_matured_documents_in_chunks_and_counts_them() -> None:
    trades, heads = stores()
    batch = [rec(f"T-{i}", 1, i, maturity_date="2026-01-15") for i in range(5)]
    batch.append(rec("T-LATER", 1, 9, maturity_date="2027-01-15"))
    write_batch(trades, heads, batch)  # type: ignore[arg-type]
    trades.calls.clear()
    assert expire_matured(trades, date(2026, 6, 1), chunk=2) == 5  # type: ignore[arg-type]
    assert [len(c) for c in trades.calls] == [2, 2, 1]
    assert {d["trade_id"]: d["expired"] for d in trades.docs.values()} == {
        **{f"T-{i}": True for i in range(5)},
        "T-LATER": False,
    }
    assert all(type(d["expired"]) is bool for d in trades.docs.values())
    assert expire_matured(trades, date(2026, 6, 1)) == 0  # type: ignore[arg-type]


def test_expiry_leaves_a_document_rewritten_since_it_was_read() -> None:
    trades, heads = stores()
    write_batch(trades, heads, [rec("T-1", 1, 0, maturity_date="2026-01-15")])  # type: ignore[arg-type]
    (doc,) = trades.docs.values()
    condition = {"_id": doc["_id"], "persisted_at": NOW, "offset": 0, "expired": False}
    assert expire_matured(trades, date(2026, 6, 1)) == 1  # type: ignore[arg-type]
    assert trades.calls[-1][0]._filter == condition
    assert trades.calls[-1][0]._doc == {**doc, "expired": True}


def test_a_head_found_equal_to_the_lowest_version_is_not_reported_as_higher() -> None:
    _, heads = stores()
    heads.docs["T-1"] = {"_id": "T-1", "version": 2}  # the insert fails; the head admits 2 and 3
    assert admit(heads, {"T-1": asks(2, 3)}, {"T-1"}) == {}  # type: ignore[arg-type]
    assert head_of(heads, "T-1") == 3


def test_a_bulk_error_without_per_operation_errors_is_no_refusal() -> None:
    trades, heads = stores()
    trades.details = {"writeConcernErrors": []}  # neither list filled: nothing refused
    assert write_batch(trades, heads, [rec("T-1")]).refused == {}  # type: ignore[arg-type]


def test_expiry_rewrites_in_chunks_of_a_thousand_by_default() -> None:
    trades, heads = stores()
    batch = [rec(f"T-{i}", 1, i, maturity_date="2026-01-15") for i in range(1001)]
    write_batch(trades, heads, batch)  # type: ignore[arg-type]
    trades.calls.clear()
    assert expire_matured(trades, date(2026, 6, 1)) == 1001  # type: ignore[arg-type]
    assert [len(c) for c in trades.calls] == [1000, 1]


# --- a batch that raised its heads but failed before its documents: re-delivered, it loses nothing ---
class DocumentsDown:
    """The trades collection refusing every write as a timeout would (transient), until `up`."""

    def __init__(self, trades: FakeCollection) -> None:
        self.up = False
        trades.refuse = lambda op: (
            None if self.up else {"code": 50, "errmsg": "operation exceeded time limit"}
        )


def test_a_batch_retried_after_its_documents_failed_writes_every_version_it_admitted() -> None:
    trades, heads = stores()
    outage = DocumentsDown(trades)
    batch = [rec("T-LOST", 1, 10), rec("T-LOST", 2, 11)]
    with pytest.raises(StoreUnavailable):
        write_batch(trades, heads, batch, {"T-LOST"})  # type: ignore[arg-type]
    assert head_of(heads, "T-LOST") == 2  # the head moved, the documents did not
    outage.up = True
    result = write_batch(trades, heads, batch)  # type: ignore[arg-type]
    assert (result.written, result.stale) == (2, {})
    assert sorted(d["version"] for d in trades.docs.values()) == [1, 2]


def test_a_batch_failing_twice_still_writes_every_version_on_the_third_try() -> None:
    trades, heads = stores()
    outage = DocumentsDown(trades)
    batch = [rec("T-1", 1, 10), rec("T-1", 2, 11), rec("T-1", 3, 12)]
    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            write_batch(trades, heads, batch)  # type: ignore[arg-type]
    outage.up = True
    assert write_batch(trades, heads, batch).stale == {}  # type: ignore[arg-type]
    assert sorted(d["version"] for d in trades.docs.values()) == [1, 2, 3]


def test_a_redelivery_with_other_batch_bounds_writes_the_admitted_records_and_admits_the_rest() -> None:
    trades, heads = stores()
    outage = DocumentsDown(trades)
    with pytest.raises(StoreUnavailable):  # a consumer admitted offsets 10-11 and crashed
        write_batch(trades, heads, [rec("T-1", 1, 10), rec("T-1", 3, 11)])  # type: ignore[arg-type]
    outage.up = True
    # the next owner reads from the committed offset on, further than the first batch went
    again = [rec("T-1", 1, 10), rec("T-1", 3, 11), rec("T-1", 2, 12), rec("T-1", 4, 13)]
    result = write_batch(trades, heads, again)  # type: ignore[arg-type]
    assert result.stale == {("T-1", 2, "B-1"): 3}  # after version 3 in the log: stale, as it always was
    assert sorted(d["version"] for d in trades.docs.values()) == [1, 3, 4]
    assert heads.docs["T-1"]["admitted"] == ["0:10", "0:11", "0:13"]
    assert head_of(heads, "T-1") == 4


def test_a_late_copy_below_the_head_at_another_offset_is_still_stale() -> None:
    trades, heads = stores()
    write_batch(trades, heads, [rec("T-1", 1, 10), rec("T-1", 2, 11)])  # type: ignore[arg-type]
    result = write_batch(trades, heads, [rec("T-1", 1, 20, counterparty_id="CP-LATE")])  # type: ignore[arg-type]
    assert result.stale == {("T-1", 1, "B-1"): 2}
    assert result.written == 0
    stored = trades.docs[doc_id(("T-1", 1, "B-1"))]
    assert (stored["offset"], stored["counterparty_id"]) == (10, SAMPLE_TRADE["counterparty_id"])


def test_a_head_seeded_from_stored_documents_admits_no_record_below_it() -> None:
    _, heads = stores()
    admit(heads, {"T-1": [Admission(5)]})  # type: ignore[arg-type]
    assert heads.docs["T-1"] == {"_id": "T-1", "version": 5, "admitted": []}
    assert admit(heads, {"T-1": asks(4)}) == {"T-1": Head(5, frozenset())}  # type: ignore[arg-type]


class Trades(FakeCollection):
    """The trades collection as seeding reads it: `$group` by trade_id with the highest version."""

    def aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        assert pipeline == [{"$group": {"_id": "$trade_id", "max_version": {"$max": "$version"}}}]
        top: dict[str, int] = {}
        for d in self.docs.values():
            top[d["trade_id"]] = max(top.get(d["trade_id"], 0), d["version"])
        return [{"_id": t, "max_version": v} for t, v in top.items()]


class Meta(FakeCollection):
    def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return next(self.find(query), None)

    def replace_one(self, query: dict[str, Any], doc: dict[str, Any], upsert: bool = False) -> None:
        assert upsert
        assert query == {"_id": doc["_id"]}
        self.docs[doc["_id"]] = doc


def test_seeding_inserts_a_thousand_heads_per_write_by_default_then_marks_them_complete() -> None:
    trades, heads, meta = Trades(), FakeCollection(), Meta()
    for i in range(1001):
        trades.docs[i] = {"_id": i, "trade_id": f"S-{i}", "version": 1 + i % 3}
    assert seed_heads(trades, heads, meta) == 1001
    assert [len(call) for call in heads.calls] == [1000, 1]
    assert heads.docs["S-2"] == {"_id": "S-2", "version": 3}
    assert meta.docs == {"heads": {"_id": "heads", "complete": True}}


def test_a_head_refused_otherwise_than_as_existing_stops_the_seeding_before_the_mark() -> None:
    trades, heads, meta = Trades(), FakeCollection(), Meta()
    trades.docs = {
        1: {"_id": 1, "trade_id": "S-1", "version": 1},
        2: {"_id": 2, "trade_id": "S-2", "version": 1},
    }
    heads.refuse = lambda op: {"code": 121, "errmsg": f"{op._doc['_id']} failed validation"}
    with pytest.raises(StoreUnavailable) as failure:
        seed_heads(trades, heads, meta)
    assert str(failure.value) == "seeding trade heads failed: MongoDB error 121: S-1 failed validation"
    assert meta.docs == {}  # the next start seeds again
