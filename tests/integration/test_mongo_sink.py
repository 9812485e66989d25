"""The MongoDB sink against a real broker (Tansu) and a real MongoDB-protocol server (nx-27017)."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo.database import Database

from fixtures.consumers import numbered_trade
from fixtures.mongo import consumer_settings, running_runtime, wait_until
from shared.kafka import TradeProducer
from shared.ports import StoredTrade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores import open_reader
from shared.stores.mongo import MongoStore
from tradestore.local.mongo import EmbeddedMongo

log = logging.getLogger(__name__)
Db = Database[dict[str, Any]]


trade = numbered_trade


def key(t: dict[str, Any]) -> bytes:
    return f"{t['trade_id']}:{t['version']}:{t['book_id']}".encode()


@pytest.fixture
def send(mongo_consumer_settings: Settings) -> Iterator[Callable[..., None]]:
    """Publish trades (or raw records) and wait for the broker's acknowledgement."""
    producer = TradeProducer(mongo_consumer_settings)
    topic = mongo_consumer_settings.trades_topic

    def publish(*trades: dict[str, Any], raw: list[tuple[bytes, bytes]] | None = None) -> None:
        futures = [producer.send(topic, value=t, key=key(t)) for t in trades]
        futures += [producer.send(topic, value=v, key=k) for k, v in raw or []]
        for f in futures:
            f.result(10)

    try:
        yield publish
    finally:
        producer.close()


def test_trades_are_persisted_with_every_field_and_probes_answer(
    mongo_consumer_settings: Settings, mongo_db: Db, send: Callable[..., None]
) -> None:
    send(*[trade(i) for i in range(20)], trade(99, maturity_date="2025-10-01"))
    with running_runtime(mongo_consumer_settings) as runtime:
        port = runtime.start_probe("127.0.0.1", 0)
        wait_until(lambda: mongo_db.trades.count_documents({}) == 21)
        # the documents are visible before the batch ends: the counter moves after the dead-letter and
        # outcome acknowledgements and the offsets (shared.consumer.pipeline), so wait for it too
        wait_until(lambda: runtime.metrics.value("tradestore_persisted_total") == 21)
        wait_until(runtime.ready)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            assert b'tradestore_persisted_total{sink="mongo"} 21.0' in resp.read()
    doc = mongo_db.trades.find_one({"trade_id": "T-3"})
    assert doc is not None
    assert doc["version"] == 1
    assert doc["expired"] is False
    assert doc["maturity_date"] == "2030-01-15"
    assert doc["created_date"] == "2025-09-28"
    assert isinstance(doc["persisted_at"], datetime)
    assert isinstance(doc["offset"], int)
    matured = mongo_db.trades.find_one({"trade_id": "T-99"})
    assert matured is not None
    assert matured["expired"] is True


def test_same_trade_twice_gives_one_document_and_same_key_overrides(
    mongo_consumer_settings: Settings, mongo_db: Db, send: Callable[..., None]
) -> None:
    send(trade(1), trade(1), trade(2, cp="CP-1"))
    with running_runtime(mongo_consumer_settings) as runtime:
        wait_until(lambda: runtime.metrics.value("tradestore_persisted_total") >= 3)
        send(trade(2, cp="CP-2"))
        wait_until(lambda: mongo_db.trades.count_documents({"counterparty_id": "CP-2"}) == 1)
    assert mongo_db.trades.count_documents({"trade_id": "T-1"}) == 1
    assert mongo_db.trades.count_documents({"trade_id": "T-2"}) == 1


def test_lower_version_goes_to_dlq_and_store_is_unchanged(
    mongo_consumer_settings: Settings, mongo_db: Db, send: Callable[..., None], topic_reader: Any
) -> None:
    send(trade(1, version=2, cp="CP-2"))
    with running_runtime(mongo_consumer_settings) as runtime:
        wait_until(lambda: mongo_db.trades.count_documents({}) == 1)
        send(trade(1, version=1, cp="CP-1"), trade(1, version=2, cp="CP-2", book="B-2"))
        wait_until(
            lambda: runtime.metrics.value("tradestore_dead_letters_total", reason="lower_version") == 1
        )
        wait_until(lambda: mongo_db.trades.count_documents({}) == 2)
    assert mongo_db.trades.count_documents({"version": 1}) == 0
    dead = topic_reader(mongo_consumer_settings.trades_dlq_topic, idle_s=0.5, count=1)
    assert [r.headers["dlq.reason"] for r in dead] == [b"lower_version"]
    assert dead[0].headers["dlq.sink"] == b"mongo"
    assert dead[0].headers["dlq.topic"] == mongo_consumer_settings.trades_topic.encode()


def test_poison_messages_go_to_dlq_and_consumer_keeps_going(
    mongo_consumer_settings: Settings, mongo_db: Db, send: Callable[..., None], topic_reader: Any
) -> None:
    bad_schema = json.dumps(trade(5, version="one")).encode()
    mismatched = json.dumps(trade(6)).encode()
    send(raw=[(b"T-4:1:B-1", b"{not json"), (b"T-5:1:B-1", bad_schema), (b"T-6:9:B-9", mismatched)])
    send(trade(7))
    with running_runtime(mongo_consumer_settings) as runtime:
        wait_until(lambda: mongo_db.trades.count_documents({}) == 1)
        wait_until(lambda: runtime.metrics.value("tradestore_consumed_total") == 4)
    dead = topic_reader(mongo_consumer_settings.trades_dlq_topic, idle_s=0.5, count=3)
    reasons = sorted(r.headers["dlq.reason"] for r in dead)
    assert reasons == [b"key_mismatch", b"schema_invalid", b"undecodable"]
    assert all({"dlq.partition", "dlq.offset", "dlq.detail"} <= set(r.headers) for r in dead)
    assert mongo_db.trades.find_one({"trade_id": "T-7"}) is not None


def _stream(send: Callable[..., None], trades: list[dict[str, Any]], pace_s: float) -> threading.Thread:
    def run() -> None:
        for i in range(0, len(trades), 10):
            send(*trades[i : i + 10])
            time.sleep(pace_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_store_outage_while_trades_flow_then_every_trade_present_once(
    kafka_bootstrap: str, topic: str, dlq_topic: str, own_mongo: EmbeddedMongo, mongo_db_name: str
) -> None:
    settings = consumer_settings(kafka_bootstrap, topic, dlq_topic, own_mongo.url, mongo_db_name)
    trades = [trade(i) for i in range(300)]
    producer = TradeProducer(settings)

    def send(*batch: dict[str, Any]) -> None:
        for f in [producer.send(topic, value=t, key=key(t)) for t in batch]:
            f.result(10)

    try:
        with running_runtime(settings) as runtime:
            flow = _stream(send, trades, 0.2)  # ~6 s of flow
            wait_until(lambda: runtime.metrics.value("tradestore_persisted_total") >= 50)
            own_mongo.stop()
            wait_until(
                lambda: not runtime.ready() and runtime.metrics.value("tradestore_retries_total") >= 3, 10
            )
            own_mongo.start()
            restarted = time.monotonic()
            before = runtime.metrics.value("tradestore_persisted_total")
            wait_until(lambda: runtime.metrics.value("tradestore_persisted_total") > before)
            resume_s = time.monotonic() - restarted
            log.warning("writes resumed %.2fs after the store came back", resume_s)
            flow.join(30)
            wait_until(runtime.ready, 10)
            sink_db = runtime.writer
            wait_until(lambda: runtime.metrics.value("tradestore_persisted_total") >= 300)
        assert resume_s < 5.0
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(own_mongo.url)
        coll = client[mongo_db_name].trades
        assert coll.count_documents({}) == 300
        assert len(coll.distinct("trade_id")) == 300
        client.close()
        assert sink_db is not None
    finally:
        producer.close()


def test_consumer_killed_mid_stream_then_restarted_loses_and_duplicates_nothing(
    mongo_consumer_settings: Settings, mongo_db: Db, send: Callable[..., None], consume_process: Any
) -> None:
    settings = mongo_consumer_settings.model_copy(
        update={"consumer_instance_id": "kill-test-1", "consumer_batch_size": 10}
    )
    trades = [trade(i, created_date=date(2025, 1, 1).isoformat()) for i in range(400)]
    first = consume_process(settings)
    first.start(30)
    flow = _stream(send, trades, 0.15)  # ~6 s of flow, longer than the group join
    wait_until(lambda: mongo_db.trades.count_documents({}) >= 100)
    first.kill()
    killed_at = mongo_db.trades.count_documents({})
    second = consume_process(settings)
    second.start(30)
    flow.join(30)
    wait_until(lambda: mongo_db.trades.count_documents({}) == 400, 40)
    assert killed_at < 400
    assert len(mongo_db.trades.distinct("trade_id")) == 400
    second.stop()


def test_a_document_mongodb_refuses_is_dead_lettered_and_the_partition_keeps_flowing(
    mongo_consumer_settings: Settings, mongo_db: Db, send: Callable[..., None], topic_reader: Any
) -> None:
    # a unique counterparty index and a stored blocker: MongoDB refuses exactly one document (11000)
    mongo_db.trades.create_index("counterparty_id", unique=True)
    mongo_db.trades.insert_one(
        {"_id": "blocker", "trade_id": "~", "version": 0, "book_id": "~", "counterparty_id": "CP-150"}
    )
    send(*[trade(i, cp=f"CP-{i}") for i in range(300)])
    with running_runtime(mongo_consumer_settings) as runtime:
        wait_until(lambda: mongo_db.trades.count_documents({"trade_id": {"$ne": "~"}}) == 299)
        wait_until(
            lambda: runtime.metrics.value("tradestore_dead_letters_total", reason="store_rejected") == 1
        )
        send(trade(300, cp="CP-300"))  # the consumer is up and the partition moves on
        wait_until(lambda: mongo_db.trades.count_documents({"trade_id": "T-300"}) == 1)
        assert runtime.ready()
    assert mongo_db.trades.count_documents({"trade_id": "T-150"}) == 0
    [letter] = topic_reader(mongo_consumer_settings.trades_dlq_topic, idle_s=0.5, count=1)
    assert letter.key == b"T-150:1:B-1"
    assert letter.headers["dlq.reason"] == b"store_rejected"
    assert b"11000" in letter.headers["dlq.detail"]


def test_the_submitting_principal_is_stored_with_the_trade(
    mongo_consumer_settings: Settings, mongo_db: Db
) -> None:
    producer = TradeProducer(mongo_consumer_settings)
    t = trade(1)
    try:
        sent = producer.send(
            mongo_consumer_settings.trades_topic, t, key(t), headers=[("tradestore.principal", b"ingest")]
        )
        sent.result(10)
    finally:
        producer.close()
    with running_runtime(mongo_consumer_settings):
        wait_until(lambda: mongo_db.trades.count_documents({}) == 1)
    assert mongo_db.trades.find_one({"trade_id": "T-1"})["principal"] == "ingest"  # type: ignore[index]
    store = open_reader(mongo_consumer_settings, "mongo")
    assert [s.principal for s in store.versions("T-1")] == ["ingest"]
    store.close()


def test_first_heads_on_a_real_server_insert_new_trades_and_survive_a_wrong_hint(
    mongo_url: str, mongo_db: Database[dict[str, Any]]
) -> None:
    """The first-head path on nx-27017 (or MONGO_URL): trade_ids max_versions found no version of get their
    head inserted; one whose head another writer admitted meanwhile still obeys that head."""

    def rec(trade_id: str, version: int) -> StoredTrade:
        payload = TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": trade_id, "version": version})
        return StoredTrade(payload, 0, version, datetime(2026, 11, 30, tzinfo=UTC))

    store = MongoStore(mongo_url, mongo_db.name, "trades")
    store.setup()
    try:
        assert store.max_versions({"F-NEW", "F-RACE"}) == {}  # both believed new
        mongo_db.trades_heads.insert_one({"_id": "F-RACE", "version": 3})  # another writer admitted 3
        result = store.write([rec("F-NEW", 1), rec("F-NEW", 2), rec("F-RACE", 2), rec("F-RACE", 4)])
        assert result.stale == {("F-RACE", 2, "B-1"): 3}
        assert result.written == 3
        heads = {h["_id"]: h["version"] for h in mongo_db.trades_heads.find()}
        assert heads == {"F-NEW": 2, "F-RACE": 4}
        stored = sorted((d["trade_id"], d["version"]) for d in mongo_db.trades.find())
        assert stored == [("F-NEW", 1), ("F-NEW", 2), ("F-RACE", 4)]
        assert store.max_versions({"F-NEW", "F-RACE"}) == {"F-NEW": 2, "F-RACE": 4}
    finally:
        store.close()
