"""MongoStore on a real server (nx-27017, or MONGO_URL): the conditional write, documents stored before
`_id` was the key, per-document refusals, errors, and expiry that keeps field types."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo import MongoClient, monitoring
from pymongo.database import Database

from shared.errors import StoreUnavailable
from shared.ports import StoredTrade, StoreSummary, TradeFilter
from shared.redact import redact_url
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.stores import mongo
from shared.stores.mongo import MongoStore
from shared.stores.mongo_writes import seed_heads
from tradestore.local.process import free_port

NOW = datetime(2026, 11, 24, tzinfo=UTC)
Db = Database[dict[str, Any]]


def stored(offset: int, **changes: object) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), 0, offset, NOW)


def test_a_version_below_a_head_admitted_by_another_writer_is_stale_and_not_written(
    mongo_store: MongoStore, mongo_db: Db
) -> None:
    assert mongo_store.write([stored(1, version=1)]).written == 1
    # another consumer (a rebalance race) admitted version 3 and has not written its document yet
    mongo_db["trades_heads"].update_one({"_id": "T-1001"}, {"$set": {"version": 3}})
    result = mongo_store.write([stored(2, version=2), stored(3, trade_id="T-2")])
    assert result.stale == {("T-1001", 2, "B-1"): 3}
    assert result.written == 1
    assert sorted((t.trade_id, t.version) for t in mongo_store.iter_trades()) == [("T-1001", 1), ("T-2", 1)]
    # the same version as the head is admitted (an override, or a redelivery)
    assert mongo_store.write([stored(4, version=3)]).written == 1


def test_a_document_stored_before_the_key_was_its_id_is_overridden_not_duplicated(
    mongo_store: MongoStore, mongo_db: Db
) -> None:
    legacy = {k: v for k, v in SAMPLE_TRADE.items()} | {"partition": 0, "offset": 1, "persisted_at": NOW}
    mongo_db.trades.insert_one(legacy)  # an ObjectId _id, as the sink wrote before
    result = mongo_store.write([stored(5, counterparty_id="CP-NEW")])
    assert (result.written, result.refused) == (1, {})
    assert [t.counterparty_id for t in mongo_store.iter_trades()] == ["CP-NEW"]
    assert mongo_db.trades.count_documents({}) == 1


def test_a_document_the_server_refuses_is_a_per_record_failure(mongo_store: MongoStore, mongo_db: Db) -> None:
    mongo_db.trades.create_index("counterparty_id", unique=True)  # stands for any per-document refusal
    mongo_store.write([stored(1, trade_id="A", counterparty_id="CP-X")])
    result = mongo_store.write([stored(2, trade_id="B", counterparty_id="CP-X"), stored(3, trade_id="C")])
    assert result.written == 1
    [(key, reason)] = result.refused.items()
    assert key == ("B", 1, "B-1")
    assert "11000" in reason


def test_stored_origins_name_the_record_each_key_was_written_from(mongo_store: MongoStore) -> None:
    mongo_store.write([stored(7), stored(8, version=2)])
    keys = {("T-1001", 1, "B-1"), ("T-1001", 2, "B-1"), ("T-1001", 9, "B-1")}
    assert mongo_store.stored_origins(keys) == {("T-1001", 1, "B-1"): (0, 7), ("T-1001", 2, "B-1"): (0, 8)}
    assert mongo_store.stored_origins(set()) == {}


def test_expiry_flags_matured_trades_and_keeps_the_boolean_type(
    mongo_store: MongoStore, mongo_db: Db
) -> None:
    mongo_store.write(
        [
            stored(1, trade_id="E-1", maturity_date="2027-01-10"),
            stored(2, trade_id="E-2", maturity_date="2028-01-01"),
        ]
    )
    assert mongo_store.expire(date(2027, 3, 2)) == 1
    assert mongo_store.expire(date(2027, 3, 2)) == 0
    assert [(t.trade_id, t.expired) for t in mongo_store.iter_trades()] == [("E-1", True), ("E-2", False)]
    assert type(mongo_db.trades.find_one({"trade_id": "E-1"})["expired"]) is bool  # type: ignore[index]


def test_an_unreachable_server_is_store_unavailable_without_the_password() -> None:
    store = MongoStore(f"mongodb://app:hunter2@127.0.0.1:{free_port()}", "db", "trades", timeout_ms=200)
    with pytest.raises(StoreUnavailable) as err:
        store.write([stored(1)])
    assert "hunter2" not in str(err.value)
    store.close()


class _RacingTrades:
    """The trades collection, with a consumer rewriting one document between expiry's read and its write."""

    def __init__(self, coll: Any, rewrite: str) -> None:
        self.coll, self.rewrite = coll, rewrite

    def find(self, query: Any) -> list[Any]:
        docs = list(self.coll.find(query))
        self.coll.update_one({"trade_id": self.rewrite}, {"$set": {"offset": 99}})  # rewritten meanwhile
        return docs

    def bulk_write(self, ops: Any, ordered: bool = True) -> Any:
        return self.coll.bulk_write(ops, ordered=ordered)


def test_expiry_rewrites_only_the_documents_it_read_and_leaves_one_rewritten_meanwhile(
    mongo_store: MongoStore, mongo_db: Db
) -> None:
    """The conditional rewrite of shared.stores.mongo_writes.expire_matured: a live document stored first
    is never replaced by a matured one, and a document a consumer rewrote after the read keeps its content."""
    from shared.stores.mongo_writes import expire_matured

    mongo_store.write(
        [
            stored(1, trade_id="E-LIVE", maturity_date="2028-01-01"),
            stored(2, trade_id="E-OLD", maturity_date="2027-01-10"),
            stored(3, trade_id="E-RACED", maturity_date="2027-01-10"),
        ]
    )
    assert expire_matured(_RacingTrades(mongo_db.trades, "E-RACED"), date(2027, 3, 2), chunk=1) == 1  # type: ignore[arg-type]
    docs = {
        d["trade_id"]: d
        for d in mongo_db.trades.find({}, {"_id": 0, "trade_id": 1, "expired": 1, "offset": 1})
    }
    assert docs == {
        "E-LIVE": {"trade_id": "E-LIVE", "expired": False, "offset": 1},
        "E-OLD": {"trade_id": "E-OLD", "expired": True, "offset": 2},
        "E-RACED": {"trade_id": "E-RACED", "expired": False, "offset": 99},  # left to the consumer
    }


def test_setup_creates_the_unique_key_and_version_indexes(mongo_store: MongoStore, mongo_db: Db) -> None:
    """By their fields (nx-27017 names indexes itself and keeps no direction: docs/nx-27017-gaps.md)."""
    indexes = {tuple(i["key"]): bool(i.get("unique")) for i in mongo_db.trades.list_indexes()}
    assert indexes[("trade_id", "version", "book_id")] is True  # one record per business key
    assert ("trade_id", "version") in indexes  # the max-version lookup


def test_setup_seeds_the_heads_of_trades_stored_before_heads_existed(mongo_url: str, mongo_db: Db) -> None:
    """The upgrade path: documents without heads get a head at their highest version, once."""
    mongo_db.trades.insert_many(
        [
            {
                **SAMPLE_TRADE,
                "trade_id": "U-1",
                "version": 1,
                "partition": 0,
                "offset": 1,
                "persisted_at": NOW,
            },
            {
                **SAMPLE_TRADE,
                "trade_id": "U-1",
                "version": 3,
                "partition": 0,
                "offset": 2,
                "persisted_at": NOW,
            },
            {
                **SAMPLE_TRADE,
                "trade_id": "U-2",
                "version": 2,
                "partition": 0,
                "offset": 3,
                "persisted_at": NOW,
            },
        ]
    )
    store = MongoStore(mongo_url, mongo_db.name, "trades")
    try:
        store.setup()
        assert sorted((h["_id"], h["version"]) for h in mongo_db.trades_heads.find()) == [
            ("U-1", 3),
            ("U-2", 2),
        ]
        assert store.write([stored(9, trade_id="U-1", version=2)]).stale  # below the seeded head
    finally:
        store.close()


class Commands(monitoring.CommandListener):
    """Every command the store sends, as a real MongoDB receives it. nx-27017 ignores index names and
    directions, runs any command name and folds collection names to one case (docs/nx-27017-gaps.md);
    a real MongoDB does not, so the commands themselves are asserted where the embedded server cannot tell."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.seen.append((event.database_name, event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def named(self, name: str) -> list[dict[str, Any]]:
        return [command for _, command_name, command in self.seen if command_name == name]

    def collections(self) -> set[str]:
        """The collections read or written (each data command names its collection under its own name)."""
        data = ("find", "insert", "update", "delete", "aggregate", "count", "findAndModify")
        return {str(command[name]) for _, name, command in self.seen if name in data}


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> Commands:
    listener = Commands()
    real = mongo.MongoClient

    def client(url: str, **options: Any) -> Any:
        return real(url, event_listeners=[listener], **options)

    monkeypatch.setattr(mongo, "MongoClient", client)
    return listener


@pytest.fixture
def watched(commands: Commands, mongo_store: MongoStore) -> MongoStore:
    """The `mongo_store` fixture with its commands recorded (`commands`): listed first, so the recording
    client is in place before the store's setup opens it."""
    return mongo_store


def test_setup_asks_for_the_named_unique_business_key_index_and_the_descending_version_index(
    watched: MongoStore, commands: Commands
) -> None:
    """The names matter on a real MongoDB: an index with the same keys under another name is a conflict
    (IndexOptionsConflict) on the next start, so a renamed index fails every upgraded deployment."""
    created = [
        (command["createIndexes"], index)
        for command in commands.named("createIndexes")
        for index in command["indexes"]
    ]
    assert [
        (coll, list(index["key"].items()), index["name"], index.get("unique")) for coll, index in created
    ] == [
        ("trades", [("trade_id", 1), ("version", 1), ("book_id", 1)], "trade_key_unique", True),
        ("trades", [("trade_id", 1), ("version", -1)], "trade_version", None),
    ]
    assert commands.collections() == {"trades", "trades_meta"}  # the seeding mark, exact names


def test_setup_of_a_store_whose_heads_are_complete_reads_no_trade(
    watched: MongoStore, commands: Commands
) -> None:
    """Heads are seeded once (the upgrade); later starts read the seeding mark and never aggregate the
    trades, which on a large store would make every consumer start a scan of the whole collection."""
    watched.write([stored(1)])
    commands.seen.clear()
    watched.setup()
    assert [(c["find"], c["filter"], c.get("limit")) for c in commands.named("find")] == [
        ("trades_meta", {"_id": "heads"}, 1)
    ]
    assert commands.named("aggregate") == []
    assert commands.collections() == {"trades_meta"}


def test_max_versions_of_new_trades_reads_only_their_heads(watched: MongoStore, commands: Commands) -> None:
    """Every stored trade has a head: a trade_id without one has no version, and the trades collection
    is aggregated only for the trade_ids that have a head, never for new ones."""
    watched.write([stored(1), stored(2, version=2), stored(3, trade_id="K-2", version=4)])
    commands.seen.clear()
    assert watched.max_versions(["N-1", "N-2"]) == {}
    assert commands.collections() == {"trades_heads"}
    assert [(c["filter"], c["projection"]) for c in commands.named("find")] == [
        ({"_id": {"$in": ["N-1", "N-2"]}}, {"_id": 1})  # the ids alone: heads carry their admitted records
    ]
    commands.seen.clear()
    assert watched.max_versions(["N-1", "T-1001", "K-2"]) == {"T-1001": 2, "K-2": 4}
    [aggregate] = commands.named("aggregate")
    assert aggregate["pipeline"][0] == {"$match": {"trade_id": {"$in": ["K-2", "T-1001"]}}}


def test_max_versions_is_the_highest_stored_version_even_below_a_head_raised_before_a_crash(
    mongo_store: MongoStore, mongo_db: Db
) -> None:
    """A head is the highest *admitted* version: a batch can raise it and stop before its documents. The
    runtime must not refuse that batch's records when they come again, so the stored versions answer."""
    mongo_store.write([stored(1)])
    mongo_db["trades_heads"].update_one({"_id": "T-1001"}, {"$set": {"version": 5, "admitted": ["0:9"]}})
    assert mongo_store.max_versions(["T-1001"]) == {"T-1001": 1}


def test_setup_resumes_an_interrupted_seeding_and_leaves_the_heads_that_exist(
    mongo_url: str, mongo_db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    """A seeding stopped half way (a crash) left some trades without a head and no mark: the next start
    inserts the missing heads only (an existing head keeps its version and the records it admitted), then
    marks the heads complete; the start after reads the mark alone."""
    docs = [
        {**SAMPLE_TRADE, "trade_id": t, "version": v, "partition": 0, "offset": i, "persisted_at": NOW}
        for i, (t, v) in enumerate([("R-1", 1), ("R-1", 2), ("R-2", 3), ("R-3", 1), ("R-4", 7)])
    ]
    mongo_db.trades.insert_many(docs)
    mongo_db.trades_heads.insert_one({"_id": "R-2", "version": 4, "admitted": ["0:2"]})
    store = MongoStore(mongo_url, mongo_db.name, "trades")
    try:
        with caplog.at_level("INFO", logger="shared.stores.mongo"):
            store.setup()
        assert caplog.records[0].getMessage() == (
            "mongo store: seeded the heads of 3 trade_ids stored before heads existed"
        )
        heads = {h["_id"]: (h["version"], h.get("admitted")) for h in mongo_db.trades_heads.find()}
        assert heads == {"R-1": (2, None), "R-2": (4, ["0:2"]), "R-3": (1, None), "R-4": (7, None)}
        assert mongo_db.trades_meta.find_one({"_id": "heads"}) == {"_id": "heads", "complete": True}
        assert store.max_versions(["R-1", "R-2", "R-4", "R-9"]) == {"R-1": 2, "R-2": 3, "R-4": 7}
        mongo_db.trades_heads.delete_one({"_id": "R-4"})  # after the mark, no start seeds again
        store.setup()
        assert mongo_db.trades_heads.count_documents({"_id": "R-4"}) == 0
    finally:
        store.close()


def test_seeding_inserts_the_missing_heads_in_chunks_and_counts_them(mongo_url: str, mongo_db: Db) -> None:
    docs = [
        {**SAMPLE_TRADE, "trade_id": f"C-{i}", "partition": 0, "offset": i, "persisted_at": NOW}
        for i in range(5)
    ]
    mongo_db.trades.insert_many(docs)
    mongo_db.trades_heads.insert_one({"_id": "C-0", "version": 1})
    listener = Commands()
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url, event_listeners=[listener])
    try:
        db = client[mongo_db.name]
        assert seed_heads(db.trades, db.trades_heads, db.trades_meta, chunk=2) == 4
        assert [len(c["documents"]) for c in listener.named("insert")] == [2, 2, 1]
        assert seed_heads(db.trades, db.trades_heads, db.trades_meta, chunk=2) == 0
        # a second start that read the meta before the first wrote the mark: it seeds nothing and marks again
        assert seed_heads(db.trades, db.trades_heads, Unmarked(db.trades_meta)) == 0
    finally:
        client.close()
    assert mongo_db.trades_heads.count_documents({}) == 5
    assert list(mongo_db.trades_meta.find()) == [{"_id": "heads", "complete": True}]


class Unmarked:
    """A `_meta` collection as a start that read it before another start wrote the mark sees it."""

    def __init__(self, meta: Any) -> None:
        self.meta = meta

    def find_one(self, *_args: Any) -> None:
        return None

    def replace_one(self, *args: Any, **kwargs: Any) -> Any:
        return self.meta.replace_one(*args, **kwargs)


def test_setup_logs_the_store_url_redacted_and_the_collection(
    mongo_url: str, mongo_db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    store = MongoStore(mongo_url, mongo_db.name, "trades")
    with caplog.at_level("INFO", logger="shared.stores.mongo"):
        store.setup()
    store.close()
    assert [r.getMessage() for r in caplog.records if r.name == "shared.stores.mongo"] == [
        f"mongo store ready: {redact_url(mongo_url)} {mongo_db.name}.trades"
    ]


def test_ping_sends_ping_to_the_admin_database(watched: MongoStore, commands: Commands) -> None:
    commands.seen.clear()
    watched.ping()
    assert [(db, name) for db, name, _ in commands.seen] == [("admin", "ping")]


def test_a_write_reads_and_writes_the_trades_and_their_heads(watched: MongoStore, commands: Commands) -> None:
    commands.seen.clear()
    assert watched.write([stored(1)]).written == 1
    assert commands.collections() == {"trades", "trades_heads"}


def test_stored_origins_reads_only_the_batch_trade_ids_and_their_origin_fields(
    watched: MongoStore, commands: Commands
) -> None:
    """One query on the trade_ids (not the whole collection), the origin fields only: `_id` excluded,
    which a real MongoDB accepts only for `_id` in an inclusion projection."""
    watched.write([stored(1, trade_id="B"), stored(2, trade_id="A"), stored(3, trade_id="C")])
    commands.seen.clear()
    assert watched.stored_origins({("B", 1, "B-1"), ("A", 1, "B-1"), ("A", 2, "B-1")}) == {
        ("B", 1, "B-1"): (0, 1),
        ("A", 1, "B-1"): (0, 2),
    }
    [find] = commands.named("find")
    assert (find["find"], find["filter"]) == ("trades", {"trade_id": {"$in": ["A", "B"]}})
    assert find["projection"] == {
        "_id": 0,
        "trade_id": 1,
        "version": 1,
        "book_id": 1,
        "partition": 1,
        "offset": 1,
    }


def test_find_filters_by_book_counterparty_and_expired_pages_in_key_order_and_counts_all(
    mongo_store: MongoStore,
) -> None:
    mongo_store.write(
        [
            stored(1, trade_id="F-3", book_id="B-1", counterparty_id="CP-2"),
            stored(2, trade_id="F-1", book_id="B-2", counterparty_id="CP-2", expired=True),
            stored(3, trade_id="F-2", book_id="B-1", counterparty_id="CP-1", expired=True),
            stored(4, trade_id="F-1", version=2, book_id="B-1", counterparty_id="CP-2"),
        ]
    )

    def ids(filters: TradeFilter, limit: int = 10, offset: int = 0) -> tuple[list[tuple[str, int]], int]:
        page, total = mongo_store.find(filters, limit, offset)
        return [t.key[:2] for t in page], total

    assert ids(TradeFilter(counterparty_id="CP-2")) == ([("F-1", 1), ("F-1", 2), ("F-3", 1)], 3)
    assert ids(TradeFilter(expired=True)) == ([("F-1", 1), ("F-2", 1)], 2)
    assert ids(TradeFilter(expired=False)) == ([("F-1", 2), ("F-3", 1)], 2)
    assert ids(TradeFilter(book_id="B-1", counterparty_id="CP-2")) == ([("F-1", 2), ("F-3", 1)], 2)
    assert ids(TradeFilter(), limit=2, offset=1) == ([("F-1", 2), ("F-2", 1)], 4)


def test_versions_are_highest_first_then_by_book(mongo_store: MongoStore) -> None:
    for offset, version, book in ((1, 1, "B-1"), (2, 2, "B-2"), (3, 2, "B-1")):  # B-2 stored first
        assert mongo_store.write([stored(offset, version=version, book_id=book)]).written == 1
    assert [(t.trade.version, t.trade.book_id, t.offset) for t in mongo_store.versions("T-1001")] == [
        (2, "B-1", 3),
        (2, "B-2", 2),
        (1, "B-1", 1),
    ]
    assert mongo_store.versions("T-NONE") == []


def test_summary_counts_only_the_prefix_and_its_expired_trades(mongo_store: MongoStore) -> None:
    mongo_store.write(
        [
            stored(1, trade_id="S-1", book_id="B-1"),
            stored(2, trade_id="S-1", version=2, book_id="B-2", expired=True),
            stored(3, trade_id="S-2", book_id="B-1"),
            stored(4, trade_id="X-1", book_id="B-1", expired=True),
            stored(5, trade_id="\U0010ffff-1", book_id="B-1"),  # the last code point: still inside ""
            stored(6, trade_id="S-\U0010ffff9", book_id="B-3"),  # inside "S-", after "S-" + U+10FFFF
        ]
    )
    assert mongo_store.summary("S-") == StoreSummary(
        total=4,
        per_book={"B-1": 2, "B-2": 1, "B-3": 1},
        latest_version={"S-1": 2, "S-2": 1, "S-\U0010ffff9": 1},
        expired=1,
    )
    assert mongo_store.summary() == StoreSummary(
        total=6,
        per_book={"B-1": 4, "B-2": 1, "B-3": 1},
        latest_version={"S-1": 2, "S-2": 1, "X-1": 1, "\U0010ffff-1": 1, "S-\U0010ffff9": 1},
        expired=2,
    )
    assert mongo_store.summary("\U0010ffff").total == 1  # a prefix no string follows: no upper bound
    assert mongo_store.summary("Z") == StoreSummary(total=0)
    assert [(t.trade_id, t.version) for t in mongo_store.iter_trades("S-")] == [
        ("S-1", 1),
        ("S-1", 2),
        ("S-2", 1),
        ("S-\U0010ffff9", 1),
    ]


def test_a_write_after_max_versions_inserts_the_heads_of_new_trades_and_raises_the_others(
    watched: MongoStore, commands: Commands, mongo_db: Db
) -> None:
    """The runtime reads max versions, then writes: trades found with no version get their head inserted
    (one plain insert), the others raised; a head another writer inserted meanwhile still wins."""
    watched.write([stored(1)])
    assert watched.max_versions(["T-1001", "N-1", "N-2"]) == {"T-1001": 1}
    mongo_db.trades_heads.insert_one({"_id": "N-2", "version": 3})  # another writer, after the read
    commands.seen.clear()
    result = watched.write([stored(2, version=2), stored(3, trade_id="N-1"), stored(4, trade_id="N-2")])
    assert (result.written, result.stale) == (2, {("N-2", 1, "B-1"): 3})
    heads = sorted((h["_id"], h["version"]) for h in mongo_db.trades_heads.find())
    assert heads == [("N-1", 1), ("N-2", 3), ("T-1001", 2)]
    inserted = [
        d["_id"] for c in commands.named("insert") if c["insert"] == "trades_heads" for d in c["documents"]
    ]
    assert sorted(inserted) == ["N-1", "N-2"]  # N-2's insert failed (duplicate): raised instead, found higher
