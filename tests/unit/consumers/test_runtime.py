"""The consumer runtime with fakes: batch decisions, DLQ routing, retry policy, offsets only after writes."""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Collection, Sequence
from concurrent.futures import Future
from datetime import UTC, date, datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from shared.consumer import ConsumerRuntime, consumer_config
from shared.consumer.batch import DeadLetter, Inbound, Reason, decode, next_offsets
from shared.consumer.dlq import DeadLetterPublisher, DeadLetterUnavailable
from shared.consumer.retry import Backoff
from shared.errors import PublishUnavailable, StoreUnavailable
from shared.kafka import Delivery
from shared.outcomes import Outcome, parse_outcome
from shared.ports import StoredTrade, WriteResult
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings

TODAY = date(2025, 10, 1)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Msg:
    def __init__(
        self, offset: int, value: bytes | None, key: bytes | None, partition: int = 0, err: Any = None
    ):
        self._o, self._v, self._k, self._p, self._e = offset, value, key, partition, err

    def topic(self) -> str:
        return "trades"

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def key(self) -> bytes | None:
        return self._k

    def value(self) -> bytes | None:
        return self._v

    def error(self) -> Any:
        return self._e

    def headers(self) -> list[tuple[str, bytes]] | None:
        return None


class FakeConsumer:
    def __init__(self, clock: Clock, batches: list[list[Msg]] | None = None) -> None:
        self.clock = clock
        self.batches = batches or []
        self.stored: list[list[tuple[int, int]]] = []
        self.events: list[str] = []
        self.waits: list[float] = []
        self.seeks: list[tuple[int, int]] = []
        self.on_poll: Any = None
        self.runtime: ConsumerRuntime | None = None
        self.closed = False
        self.subscribed: list[list[str]] = []
        self.consumed: list[tuple[int, float]] = []

    def subscribe(self, topics: list[str], on_assign: Any, on_revoke: Any) -> None:
        self.subscribed.append(topics)
        self.on_assign, self.on_revoke = on_assign, on_revoke
        on_assign(self, [TopicPartition("trades", 0), TopicPartition("trades", 1)])

    def consume(self, num_messages: int, timeout: float) -> list[Msg]:
        self.consumed.append((num_messages, timeout))
        if self.batches:
            return self.batches.pop(0)
        if self.runtime is not None:
            self.runtime.stop()
        return []

    def poll(self, timeout: float) -> Any:
        self.clock.t += timeout
        self.waits.append(timeout)
        if self.on_poll is not None:
            return self.on_poll()
        return None

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("trades", 0)]

    def pause(self, parts: list[TopicPartition]) -> None:
        self.events.append("pause")

    def resume(self, parts: list[TopicPartition]) -> None:
        self.events.append("resume")

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.partition, tp.offset))

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        self.events.append("store")
        self.stored.append([(tp.partition, tp.offset) for tp in offsets])

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        return (0, 10)

    def close(self) -> None:
        self.closed = True


class FakeSink:
    name = "fake"

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int, str], StoredTrade] = {}
        self.fail_next = 0
        self.ping_fails = False
        self.setup_fails = 0
        self.setups: list[float] = []  # the clock at each setup attempt (`clock` set by the test)
        self.clock: Clock | None = None
        self.pings = 0
        self.closed = False

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise StoreUnavailable("store down")

    def setup(self) -> None:
        self.setups.append(self.clock.t if self.clock is not None else 0.0)
        if self.setup_fails:
            self.setup_fails -= 1
            raise StoreUnavailable("store down at start")

    def ping(self) -> None:
        self.pings += 1
        if self.ping_fails:
            raise StoreUnavailable("down")

    def max_versions(self, trade_ids: Collection[str]) -> dict[str, int]:
        self._maybe_fail()
        out: dict[str, int] = {}
        for tid, version, _ in self.rows:
            if tid in trade_ids:
                out[tid] = max(out.get(tid, 0), version)
        return out

    def stored_origins(
        self, keys: Collection[tuple[str, int, str]]
    ) -> dict[tuple[str, int, str], tuple[int, int]]:
        self._maybe_fail()
        return {k: (r.partition, r.offset) for k, r in self.rows.items() if k in keys}

    def write(self, records: Sequence[StoredTrade]) -> WriteResult:
        self._maybe_fail()
        for r in records:
            self.rows[r.trade.key] = r
        return WriteResult(written=len(records))

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """shared.kafka.TradeProducer's send: records what is sent; `unacked` sends fail their future."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.outcomes: list[Outcome] = []  # the sink's verdicts (TRADES_OUTCOMES_TOPIC), kept apart
        self.unacked = 0

    def send(
        self, topic: str, value: Any, key: Any, headers: Sequence[tuple[str, bytes]] | None = None
    ) -> Future[Delivery]:
        future: Future[Delivery] = Future()
        if topic == "trades.outcomes":
            outcome = parse_outcome(value)
            assert outcome is not None
            self.outcomes.append(outcome)
            future.set_result(Delivery(topic, 0, len(self.outcomes) - 1))
            return future
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": dict(headers or [])})
        if self.unacked:
            self.unacked -= 1
            future.set_exception(PublishUnavailable("broker did not acknowledge: timed out"))
        else:
            future.set_result(Delivery(topic, 0, len(self.sent) - 1))
        return future


def trade(**changes: Any) -> dict[str, Any]:
    return {**SAMPLE_TRADE, **changes}


def msg(offset: int, partition: int = 0, **changes: Any) -> Msg:
    t = trade(**changes)
    return Msg(
        offset, json.dumps(t).encode(), f"{t['trade_id']}:{t['version']}:{t['book_id']}".encode(), partition
    )


def make(
    batches: list[list[Msg]] | None = None,
) -> tuple[ConsumerRuntime, FakeConsumer, FakeSink, FakeProducer]:
    clock = Clock()
    consumer, sink, producer = FakeConsumer(clock, batches), FakeSink(), FakeProducer()
    settings = Settings(consumer_retry_initial_s=0.2, consumer_retry_max_s=1.0, trades_dlq_topic="dlq")
    runtime = ConsumerRuntime(
        settings,
        sink,
        consumer=consumer,
        dlq_producer=producer,
        today=lambda: TODAY,
        now=lambda: datetime(2025, 10, 1, tzinfo=UTC),
        clock=clock,
        backoff=Backoff(0.2, 1.0, random.Random(1)),
    )
    consumer.runtime = runtime
    return runtime, consumer, sink, producer


def inbound(records: list[Msg]) -> list[Inbound]:
    return [Inbound("trades", m.partition(), m.offset(), m.key(), m.value()) for m in records]


def test_run_writes_batches_then_stores_offsets_then_closes() -> None:
    runtime, consumer, sink, _ = make(
        [[msg(0), msg(1, trade_id="T-2")], [msg(5, partition=1, trade_id="T-3")]]
    )
    assert runtime.run() == 0
    assert set(t for t, _, _ in sink.rows) == {"T-1001", "T-2", "T-3"}
    assert consumer.stored == [[(0, 2)], [(1, 6)]]
    assert consumer.closed
    assert sink.closed
    assert runtime.metrics.value("tradestore_persisted_total") == 3
    assert runtime.metrics.value("tradestore_lag") == 4 + 8


def test_bad_data_goes_to_dlq_with_reason_headers_and_offsets_are_stored_after_flush() -> None:
    runtime, consumer, sink, producer = make()
    runtime.run()  # sets up the DLQ publisher; the fake then stops at once
    runtime._stop.clear()
    bad_schema = Msg(1, json.dumps(trade(version="x")).encode(), b"T-1001:1:B-1")
    records = [
        Msg(0, b"{oops", b"k"),
        bad_schema,
        Msg(2, json.dumps(trade()).encode(), b"T-1001:9:B-1"),
        msg(3, maturity_date="2025-01-01", created_date="2025-02-01"),
        Msg(4, b"[1, 2]", b"k"),
        msg(5),
    ]
    runtime.process(inbound(records))
    reasons = [p["headers"]["dlq.reason"] for p in producer.sent]
    assert reasons == [b"undecodable", b"schema_invalid", b"key_mismatch", b"rule_violation", b"undecodable"]
    assert producer.sent[1]["headers"]["dlq.offset"] == b"1"
    assert producer.sent[1]["headers"]["dlq.sink"] == b"fake"
    assert producer.sent[1]["value"] == bad_schema.value()
    assert consumer.stored[-1] == [(0, 6)]
    assert len(sink.rows) == 1
    assert runtime.metrics.value("tradestore_dead_letters_total", reason="undecodable") == 2


def test_lower_version_is_rejected_to_dlq_and_store_unchanged() -> None:
    runtime, _, sink, producer = make()
    runtime.run()
    runtime._stop.clear()
    runtime.process(inbound([msg(0, version=3, counterparty_id="CP-3")]))
    runtime.process(
        inbound([msg(1, version=2), msg(2, version=3, counterparty_id="CP-9"), msg(3, version=4)])
    )
    assert [p["headers"]["dlq.reason"] for p in producer.sent] == [b"lower_version"]
    assert sorted(k[1] for k in sink.rows) == [3, 4]
    assert sink.rows[("T-1001", 3, "B-1")].trade.counterparty_id == "CP-9"  # same version overrides


def test_matured_trade_is_stored_expired_with_the_consumer_clock() -> None:
    runtime, _, sink, _ = make()
    runtime.run()
    runtime._stop.clear()
    runtime.process(inbound([msg(0, maturity_date="2025-09-30", created_date="2025-01-01")]))
    assert next(iter(sink.rows.values())).trade.expired is True


def test_store_outage_retries_with_capped_backoff_and_commits_nothing_until_written() -> None:
    runtime, consumer, sink, _ = make()
    runtime.run()
    runtime._stop.clear()
    sink.fail_next = 6
    seen_store: list[int] = []
    consumer.on_poll = lambda: seen_store.append(len(consumer.stored))
    before = len(consumer.stored)
    runtime.process(inbound([msg(0)]))
    assert set(seen_store) == {before}  # nothing stored while failing
    assert runtime.metrics.value("tradestore_retries_total") == 6
    assert consumer.events[-3:] == ["pause", "resume", "store"]
    assert consumer.clock.t <= 0.2 + 0.4 + 1.0 * 4 + 1e-9
    assert all(w <= 0.2 + 1e-9 for w in consumer.waits)  # polls often: heartbeats and rebalances served
    assert runtime.metrics.value("tradestore_store_up") == 1


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_is_capped_and_jitter_bounded(attempt: int) -> None:
    backoff = Backoff(0.2, 5.0, random.Random(attempt))
    ceiling = backoff.ceiling(attempt)
    assert ceiling == min(5.0, 0.2 * 2**attempt)
    assert ceiling / 2 <= backoff.delay(attempt) <= ceiling
    assert backoff.ceiling(10_000) == 5.0


def test_stop_during_retry_abandons_the_batch_without_commit(caplog: pytest.LogCaptureFixture) -> None:
    runtime, consumer, sink, _ = make()
    runtime.run()
    runtime._stop.clear()
    sink.fail_next = 1000
    polls_at_stop: list[int] = []

    def stop_after_three_seconds() -> None:
        if consumer.clock.t > 3 and not polls_at_stop:
            polls_at_stop.append(len(consumer.waits))
            runtime.stop()

    consumer.on_poll = stop_after_three_seconds
    consumer.batches = [[msg(0)]]
    stored = len(consumer.stored)
    runtime._stop.clear()
    runtime.poll_once()
    assert len(consumer.waits) == polls_at_stop[0]  # served at once: no poll after the stop request
    assert len(consumer.stored) == stored
    assert runtime.metrics.value("tradestore_abandoned_batches_total") == 1
    assert not runtime.ready()
    [line] = [r.getMessage() for r in caplog.records if "abandoned" in r.getMessage()]
    assert line == (
        "fake batch of 1 abandoned, nothing committed: stop requested or partitions revoked during retry"
    )


def test_revocation_during_retry_abandons_and_rewinds_still_assigned_partitions() -> None:
    runtime, consumer, sink, _ = make()
    runtime.run()
    runtime._stop.clear()
    consumer.subscribe(["trades"], runtime._on_assign, runtime._on_revoke)
    sink.fail_next = 1000

    def revoke() -> None:
        consumer.on_revoke(consumer, [TopicPartition("trades", 1)])

    consumer.on_poll = revoke
    consumer.batches = [[msg(4), msg(7, partition=1, trade_id="T-2"), msg(5)]]
    stored = len(consumer.stored)
    runtime.poll_once()
    assert len(consumer.waits) == 1  # the revocation ends the backoff wait at once
    assert len(consumer.stored) == stored
    assert consumer.seeks == [(0, 4)]


def test_message_delivered_from_a_paused_partition_is_read_again() -> None:
    runtime, consumer, sink, _ = make()
    runtime.run()
    runtime._stop.clear()
    sink.fail_next = 1
    consumer.on_poll = lambda: msg(9)
    runtime.process(inbound([msg(0)]))
    assert (0, 9) in consumer.seeks


def test_unacknowledged_dead_letters_are_retried_before_the_commit() -> None:
    runtime, consumer, _, producer = make()
    runtime.run()
    runtime._stop.clear()
    producer.unacked = 2
    runtime.process(inbound([Msg(0, b"nope", b"k")]))
    assert len(producer.sent) == 3  # at-least-once into the DLQ too
    assert consumer.stored[-1] == [(0, 1)]


def test_dlq_publisher_reports_delivery_errors_and_full_queue() -> None:
    class Failing(FakeProducer):
        def send(self, topic: str, value: Any, key: Any, headers: Any = None) -> Future[Delivery]:
            future: Future[Delivery] = Future()
            future.set_exception(PublishUnavailable("broker gone"))
            return future

    letter = decode(Inbound("t", 0, 0, b"k", b"x"), TODAY)
    assert isinstance(letter, DeadLetter)
    assert letter.reason is Reason.UNDECODABLE
    with pytest.raises(DeadLetterUnavailable, match="broker gone"):
        DeadLetterPublisher(Failing(), "dlq", "s").publish([letter])

    class Full(FakeProducer):
        def send(self, topic: str, value: Any, key: Any, headers: Any = None) -> Future[Delivery]:
            raise PublishUnavailable("producer queue is full")

    with pytest.raises(DeadLetterUnavailable, match="queue is full"):
        DeadLetterPublisher(Full(), "dlq", "s").publish([letter])


def test_idle_ping_turns_readiness_off_and_back_on() -> None:
    runtime, consumer, sink, _ = make()
    runtime.run()
    runtime._stop.clear()
    assert runtime.ready()
    sink.ping_fails = True
    consumer.clock.t += 10
    consumer.consume = lambda num_messages, timeout: []  # type: ignore[method-assign]
    runtime.poll_once()
    assert not runtime.ready()
    sink.ping_fails = False
    consumer.clock.t += 10
    runtime.poll_once()
    assert runtime.ready()


def test_consumer_errors_are_skipped_and_eof_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    eof = KafkaError(KafkaError._PARTITION_EOF)
    other = KafkaError(KafkaError._TRANSPORT)
    runtime, _consumer, sink, producer = make(
        [[Msg(0, None, None, err=eof), Msg(1, None, None, err=other), msg(2)]]
    )
    runtime.run()
    runtime._stop.clear()
    assert len(sink.rows) == 1
    errors = [r.getMessage() for r in caplog.records if "consumer error" in r.getMessage()]
    assert errors == [f"fake consumer error: {other.str()}"]  # the transport error only: EOF is no error
    assert all(r.levelno < logging.ERROR for r in caplog.records)
    assert producer.sent == []  # an error event is no record: nothing dead-lettered for it


def test_a_created_date_later_than_the_consumers_clock_is_stored_not_refused() -> None:
    """Audit survivor (issue 19): created_date <= today is the API's check with its clock; a consumer whose
    clock is behind (here a day) must store the trade, not dead-letter it."""
    runtime, _consumer, sink, producer = make()
    runtime.run()
    runtime._stop.clear()
    tomorrow = "2025-10-02"  # TODAY is 2025-10-01 for the consumer
    runtime.process(inbound([msg(0, created_date=tomorrow, maturity_date="2026-01-15")]))
    assert list(sink.rows) == [(SAMPLE_TRADE["trade_id"], SAMPLE_TRADE["version"], SAMPLE_TRADE["book_id"])]
    assert producer.sent == []


def test_offsets_store_failure_after_revocation_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    runtime, consumer, _, _ = make()
    runtime.run()
    runtime._stop.clear()

    def fail(offsets: list[TopicPartition]) -> None:
        raise KafkaException(KafkaError(KafkaError._STATE))

    consumer.store_offsets = fail  # type: ignore[method-assign]
    runtime.process(inbound([msg(0)]))
    [line] = [r.getMessage() for r in caplog.records if "could not store offsets" in r.getMessage()]
    assert line.startswith("fake could not store offsets: ")
    assert "_STATE" in line


def test_next_offsets_are_one_past_the_last_record_per_partition() -> None:
    records = inbound([msg(3), msg(1, partition=1), msg(4), msg(2, partition=1)])
    assert next_offsets(records) == {("trades", 0): 5, ("trades", 1): 3}


def test_consumer_config_defaults_group_per_sink_and_static_membership() -> None:
    config = consumer_config(Settings(), "mongo")
    assert config["group.id"] == "tradestore-mongo"
    assert config["enable.auto.offset.store"] is False
    assert config["session.timeout.ms"] == 6000
    assert config["heartbeat.interval.ms"] == 500
    assert "group.instance.id" not in config
    custom = consumer_config(Settings(consumer_group="g", consumer_instance_id="i-1"), "sql")
    assert custom["group.id"] == "g"
    assert custom["group.instance.id"] == "i-1"


def test_probe_server_answers_health_ready_and_metrics() -> None:
    runtime, _, _sink, _ = make([[msg(0)]])
    runtime.run()
    runtime._stop.clear()
    port = runtime.start_probe("127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/health", timeout=2) as r:  # noqa: S310
            assert r.status == 200
        with urllib.request.urlopen(base + "/ready", timeout=2) as r:  # noqa: S310
            assert r.status == 200
        with urllib.request.urlopen(base + "/metrics", timeout=2) as r:  # noqa: S310
            assert b"tradestore_persisted_total" in r.read()
        runtime._store_ok = False
        for path, status in (("/ready", 503), ("/nope", 404)):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + path, timeout=2)  # noqa: S310
            assert err.value.code == status
            err.value.close()
    finally:
        assert runtime._probe is not None
        runtime._probe.stop()


def test_decode_refuses_json_that_is_not_an_object() -> None:
    out = decode(Inbound("t", 0, 0, b"k", b"42"), TODAY)
    assert not isinstance(out, type(SAMPLE_TRADE))
    assert getattr(out, "reason", None) is Reason.UNDECODABLE


def test_dead_letters_keep_the_original_headers_and_add_why_and_where() -> None:
    runtime, _, _, producer = make()
    runtime.run()
    runtime._stop.clear()
    record = Inbound(
        "trades", 2, 9, b"k", b"nope", (("tradestore.principal", b"key-7"), ("dlq.reason", b"old"))
    )
    runtime.process([record])
    [sent] = producer.sent
    assert sent["headers"]["tradestore.principal"] == b"key-7"
    assert sent["headers"]["dlq.reason"] == b"undecodable"
    assert (sent["headers"]["dlq.partition"], sent["headers"]["dlq.offset"]) == (b"2", b"9")


def test_the_principal_header_is_stored_with_the_trade() -> None:
    runtime, _, sink, _ = make()
    runtime.run()
    runtime._stop.clear()
    [m] = inbound([msg(0)])
    runtime.process(
        [Inbound(m.topic, m.partition, m.offset, m.key, m.value, (("tradestore.principal", b"sub-1"),))]
    )
    assert next(iter(sink.rows.values())).principal == "sub-1"


def test_a_replayed_batch_reports_no_false_lower_version_rejections() -> None:
    # v1 and v2 of one trade in one batch, written; the process dies before committing; the batch comes
    # back: v1 is now below the stored v2, but it is the very record v1 was written from: not a rejection.
    runtime, _, sink, producer = make()
    runtime.run()
    runtime._stop.clear()
    batch = inbound([msg(0, version=1), msg(1, version=2)])
    runtime.process(batch)
    assert len(sink.rows) == 2
    runtime.process(batch)  # redelivery
    assert producer.sent == []
    assert runtime.metrics.value("tradestore_replayed_total") == 1
    # a genuinely stale copy (another offset) is still dead-lettered
    runtime.process(inbound([msg(2, version=1)]))
    assert len(producer.sent) == 1


def make_with(store: Any) -> tuple[ConsumerRuntime, FakeConsumer, FakeProducer]:
    clock = Clock()
    consumer, producer = FakeConsumer(clock), FakeProducer()
    runtime = ConsumerRuntime(
        Settings(trades_dlq_topic="dlq"),
        store,
        consumer=consumer,
        dlq_producer=producer,
        today=lambda: TODAY,
        now=lambda: datetime(2025, 10, 1, tzinfo=UTC),
        clock=clock,
        backoff=Backoff(0.2, 1.0, random.Random(1)),
    )
    consumer.runtime = runtime
    runtime.run()
    runtime._stop.clear()
    return runtime, consumer, producer


@pytest.mark.parametrize("batch_refusal", [False, True])
@pytest.mark.parametrize(("size", "culprit"), [(1, 0), (5, 0), (5, 2), (5, 4), (64, 63)])
def test_a_record_the_store_refuses_is_dead_lettered_and_the_rest_persisted(
    batch_refusal: bool, size: int, culprit: int
) -> None:
    from fixtures.fake_store import FakeStore

    store = FakeStore(batch_refusal=batch_refusal)
    store.poison.add(f"T-{culprit}")
    runtime, consumer, producer = make_with(store)
    runtime.process(inbound([msg(i, trade_id=f"T-{i}") for i in range(size)]))
    [letter] = producer.sent
    assert letter["headers"]["dlq.reason"] == b"store_rejected"
    assert f"T-{culprit}" in letter["headers"]["dlq.detail"].decode()
    assert letter["key"] == f"T-{culprit}:1:B-1".encode()
    assert sorted(k[0] for k in store.rows) == sorted(f"T-{i}" for i in range(size) if i != culprit)
    assert consumer.stored[-1] == [(0, size)]  # the partition moves on
    assert runtime.metrics.value("tradestore_persisted_total") == size - 1
    assert runtime.metrics.value("tradestore_dead_letters_total", reason="store_rejected") == 1
    runtime.process(inbound([msg(size, trade_id="T-next")]))  # and the consumer keeps going
    assert ("T-next", 1, "B-1") in store.rows


def test_a_version_the_store_guard_refuses_is_dead_lettered_as_lower_version_not_persisted() -> None:
    from fixtures.fake_store import FakeStore

    store = FakeStore()
    runtime, _, producer = make_with(store)
    real_max = store.max_versions
    store.max_versions = lambda ids: {}  # type: ignore[method-assign]  # a racing writer is not seen yet
    store.rows[("T-1001", 5, "B-1")] = StoredTrade(
        TradePayload.model_validate(trade(version=5)), 1, 99, datetime(2025, 10, 1, tzinfo=UTC)
    )
    runtime.process(inbound([msg(0, version=2)]))
    store.max_versions = real_max  # type: ignore[method-assign]
    [letter] = producer.sent
    assert letter["headers"]["dlq.reason"] == b"lower_version"
    assert b"race guard" in letter["headers"]["dlq.detail"]
    assert runtime.metrics.value("tradestore_persisted_total") == 0


def test_every_processed_record_gets_one_outcome_before_its_offset_is_stored() -> None:
    runtime, consumer, _, producer = make()
    runtime.run()
    runtime._stop.clear()
    stored_before = len(consumer.stored)
    send = producer.send
    stored_at_send: list[int] = []

    def watching(topic: str, value: Any, key: Any, headers: Any = None) -> Future[Delivery]:
        stored_at_send.append(len(consumer.stored))
        return send(topic, value, key, headers)

    producer.send = watching  # type: ignore[method-assign]
    runtime.process(inbound([msg(0, version=3), msg(1, version=2), Msg(2, b"not json", b"T-9:1:B-1")]))
    verdicts = {(o.offset, o.state.value, o.reason, o.max_version) for o in producer.outcomes}
    assert verdicts == {
        (0, "stored", None, None),
        (1, "rejected", "lower_version", 3),
        (2, "rejected", "undecodable", None),
    }
    assert {o.sink for o in producer.outcomes} == {"fake"}
    assert (
        len(consumer.stored) == stored_before + 1
    )  # offsets stored once, after the outcomes were acknowledged


class _LoggedFuture(Future[Delivery]):
    """A delivery future that logs when the runtime waits for the acknowledgement (result())."""

    def __init__(self, log: list[str], topic: str) -> None:
        super().__init__()
        self._log, self._topic = log, topic

    def result(self, timeout: float | None = None) -> Delivery:
        self._log.append(f"ack {self._topic}")
        return super().result(timeout)


def test_order_is_write_then_dead_letter_acknowledgement_then_offsets_stored() -> None:
    """The order guarantee as order (a recording fake logs every call), not only as the final state."""
    log: list[str] = []
    runtime, consumer, sink, producer = make()
    runtime.run()  # builds the pipeline; no batch yet
    runtime._stop.clear()
    sink.rows[("T-OLD", 5, "B-1")] = StoredTrade(
        TradePayload.model_validate(trade(trade_id="T-OLD", version=5)),
        0,
        0,
        datetime(2025, 1, 1, tzinfo=UTC),
    )
    write, send, store = sink.write, producer.send, consumer.store_offsets

    def logged_write(records: Sequence[StoredTrade]) -> WriteResult:
        log.append("write")
        return write(records)

    def logged_send(topic: str, value: Any, key: Any, headers: Any = None) -> Future[Delivery]:
        log.append(f"send {topic}")
        future = _LoggedFuture(log, topic)
        future.set_result(send(topic, value, key, headers).result())
        return future

    def logged_store(offsets: list[TopicPartition]) -> None:
        log.append("store")
        store(offsets)

    sink.write, producer.send, consumer.store_offsets = logged_write, logged_send, logged_store  # type: ignore[method-assign]
    runtime.process(
        inbound([msg(0, trade_id="T-NEW"), Msg(1, b"nope", b"k"), msg(2, trade_id="T-OLD", version=1)])
    )
    dlq = [entry for entry in log if "trades.outcomes" not in entry]  # the verdicts topic is checked apart
    assert dlq == ["write", "send dlq", "send dlq", "ack dlq", "ack dlq", "store"]
    assert log[-1] == "store"  # the verdicts too are acknowledged before the offsets
    assert consumer.stored == [[(0, 3)]]
    written = sink.rows[("T-NEW", SAMPLE_TRADE["version"], SAMPLE_TRADE["book_id"])]
    assert (written.partition, written.offset) == (0, 0)
    assert written.persisted_at == datetime(2025, 10, 1, tzinfo=UTC)  # the runtime's clock, not None
    assert sorted(letter["headers"]["dlq.reason"] for letter in producer.sent) == [
        b"lower_version",
        b"undecodable",
    ]


def test_a_polled_message_keeps_its_headers_by_name() -> None:
    from shared.consumer.runtime import to_inbound

    class WithHeaders(Msg):
        def headers(self) -> list[tuple[str, bytes]] | None:
            return [("tradestore.principal", b"ingest"), ("redrive.of", b"trades.dlq:0:7")]

    inbound = to_inbound(WithHeaders(3, b"{}", b"k", partition=2))  # type: ignore[arg-type]
    assert inbound == Inbound(
        "trades", 2, 3, b"k", b"{}", (("tradestore.principal", b"ingest"), ("redrive.of", b"trades.dlq:0:7"))
    )
    assert type(inbound) is Inbound  # not a bare tuple: equal, but without names or the principal
    assert (inbound.partition, inbound.offset, inbound.principal) == (2, 3, "ingest")


class _LateAck(FakeProducer):
    """Acknowledges each dead letter from another thread, a moment after it was sent (a real broker)."""

    def send(self, topic: str, value: Any, key: Any, headers: Any = None) -> Future[Delivery]:
        import threading

        future: Future[Delivery] = Future()
        threading.Timer(0.05, future.set_result, [Delivery(topic, 0, 0)]).start()
        return future


class _NeverAcks(FakeProducer):
    def send(self, topic: str, value: Any, key: Any, headers: Any = None) -> Future[Delivery]:
        return Future()


def test_dead_letters_acknowledged_later_within_the_timeout_are_published() -> None:
    letter = decode(Inbound("t", 0, 0, b"k", b"x"), TODAY)
    assert isinstance(letter, DeadLetter)
    DeadLetterPublisher(_LateAck(), "dlq", "s", timeout_s=30).publish([letter, letter])  # no raise


@pytest.mark.timeout(20)
def test_dead_letters_never_acknowledged_fail_after_the_timeout_naming_it() -> None:
    letter = decode(Inbound("t", 0, 0, b"k", b"x"), TODAY)
    assert isinstance(letter, DeadLetter)
    with pytest.raises(DeadLetterUnavailable, match="did not acknowledge: no acknowledgement in time"):
        DeadLetterPublisher(_NeverAcks(), "dlq", "s", timeout_s=0.1).publish([letter])


def test_each_dead_letter_is_logged_with_sink_origin_reason_and_detail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, _consumer, sink, _producer = make()
    runtime.run()
    runtime._stop.clear()
    with caplog.at_level(logging.WARNING, logger="shared.consumer"):
        runtime.process(inbound([Msg(7, b"[1]", b"k", partition=1)]))
    [line] = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert line == f"{sink.name} dead-lettered trades[1]@7: undecodable (JSON list, not an object)"
    assert runtime.metrics.value("tradestore_dead_letters_total", reason="undecodable") == 1
    assert runtime.metrics.value("tradestore_persisted_total") == 0


@pytest.mark.parametrize(
    ("sink_name", "role"), [("mongo", "kafkaconsumer"), ("sql", "kafkaconsumermssql"), ("x", "consumer-x")]
)
def test_the_consumer_client_id_names_its_role_and_instance(sink_name: str, role: str) -> None:
    sink = FakeSink()
    sink.name = sink_name
    settings = Settings(consumer_instance_id="i7", consumer_retry_initial_s=0.3, consumer_retry_max_s=4.0)
    runtime = ConsumerRuntime(settings, sink, consumer=FakeConsumer(Clock()), dlq_producer=FakeProducer())
    assert runtime.client_id == f"{role}-i7"
    assert (runtime.backoff.initial_s, runtime.backoff.max_s) == (0.3, 4.0)
    assert not runtime.ready()  # nothing polled, no store checked yet


class SteppingStop(threading.Event):
    """The runtime's stop event with a fake clock: each wait advances the clock by its timeout at once (a
    real wait without a timeout would never end, and never retry: refused)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.steps: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None, "an unbounded wait: the store would never be tried again"
        self.steps.append(timeout)
        self.clock.t += timeout
        return self.is_set()


def store_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The store-state changes the runtime logged, in order."""
    states = ("fake store reachable", "fake store unreachable")
    return [r.getMessage() for r in caplog.records if r.getMessage() in states]


def test_a_store_down_at_start_is_retried_after_each_backoff_delay_in_short_waits_then_consumed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, consumer, sink, _ = make([[msg(0)]])
    runtime._stop = SteppingStop(consumer.clock)
    sink.clock, sink.setup_fails = consumer.clock, 3
    twin = Backoff(0.2, 1.0, random.Random(1))  # the runtime's backoff, same seed: the delays it draws
    delays = [twin.delay(attempt) for attempt in range(3)]
    with caplog.at_level(logging.INFO, logger="shared.consumer"):
        assert runtime.run() == 0
    gaps = [later - earlier for earlier, later in zip(sink.setups, sink.setups[1:], strict=False)]
    assert gaps == pytest.approx(delays)  # each retry after its full delay, not sooner
    assert runtime._stop.steps
    assert max(runtime._stop.steps) <= 0.2 + 1e-9
    assert runtime.metrics.value("tradestore_retries_total") == 3
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries == [
        f"fake store unavailable (attempt {n}), retrying in {delay:.2f}s: store down at start"
        for n, delay in enumerate(delays, start=1)
    ]
    assert store_lines(caplog) == ["fake store reachable"]  # not known before: one line, when it answers
    assert consumer.subscribed == [["trades"]]
    assert len(sink.rows) == 1  # then it consumes


def test_a_consumer_stopped_while_its_store_is_down_at_start_never_subscribes_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, consumer, sink, _ = make()
    stop = SteppingStop(consumer.clock)
    runtime._stop = stop

    def setup_then_stop_after_three() -> None:
        sink.setups.append(consumer.clock.t)
        if len(sink.setups) == 3:
            runtime.stop()
        raise StoreUnavailable("store down at start")

    sink.setup = setup_then_stop_after_three  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="shared.consumer"):
        assert runtime.run() == 0
    assert consumer.subscribed == []
    assert consumer.closed
    assert sink.closed
    assert not runtime.ready()
    assert runtime.metrics.value("tradestore_store_up") == 0
    assert runtime.metrics.value("tradestore_retries_total") == 3
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fake consumer")]
    assert lines == ["fake consumer stopped before its store became reachable", "fake consumer closed"]


def test_a_store_outage_during_a_batch_turns_readiness_and_store_up_off_and_logs_each_change_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, consumer, sink, _ = make()
    with caplog.at_level(logging.INFO, logger="shared.consumer"):
        runtime.run()
        runtime._stop.clear()
        sink.fail_next = 3
        during: list[tuple[bool, float]] = []
        consumer.on_poll = lambda: during.append(
            (runtime.ready(), runtime.metrics.value("tradestore_store_up"))
        )
        runtime.process(inbound([msg(0)]))
    assert during
    assert set(during) == {(False, 0.0)}
    assert (runtime.ready(), runtime.metrics.value("tradestore_store_up")) == (True, 1.0)
    assert store_lines(caplog) == ["fake store reachable", "fake store unreachable", "fake store reachable"]
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert [line.split(" retrying")[0] for line in retries] == [
        f"fake store unavailable (attempt {n})," for n in (1, 2, 3)
    ]
    assert all(line.endswith(": store down") for line in retries)


def test_the_batch_latency_histogram_holds_the_time_from_poll_to_commit() -> None:
    runtime, consumer, sink, _ = make()
    runtime.run()
    runtime._stop.clear()
    sink.fail_next = 2
    consumer.clock.t = started = 100.0
    runtime.process(inbound([msg(0)]))
    assert runtime.metrics.value("tradestore_batch_seconds_count") == 1
    assert runtime.metrics.value("tradestore_batch_seconds_sum") == pytest.approx(consumer.clock.t - started)
    assert consumer.clock.t - started > 0


def test_an_idle_runtime_pings_its_store_every_two_seconds_not_on_every_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, consumer, sink, _ = make()
    runtime.run()  # the store answered at t=0 (setup)
    runtime._stop.clear()
    consumer.consume = lambda num_messages, timeout: []  # type: ignore[method-assign]
    pings: list[int] = []
    for t in (1.9, 2.0, 3.9, 4.0):
        consumer.clock.t = t
        runtime.poll_once()
        pings.append(sink.pings)
    assert pings == [0, 1, 1, 2]
    sink.ping_fails = True
    with caplog.at_level(logging.INFO, logger="shared.consumer"):
        for t in (6.0, 8.0):
            consumer.clock.t = t
            runtime.poll_once()
    assert sink.pings == 4
    idle = [r.getMessage() for r in caplog.records if "while idle" in r.getMessage()]
    assert idle == ["fake store unavailable while idle: down"]  # once, when it went down
    assert store_lines(caplog) == ["fake store unreachable"]
    assert not runtime.ready()
    assert runtime.metrics.value("tradestore_store_up") == 0


def test_each_poll_asks_for_the_configured_batch_size_and_wait() -> None:
    clock = Clock()
    consumer = FakeConsumer(clock)
    settings = Settings(consumer_batch_size=7, consumer_batch_timeout_ms=250)
    runtime = ConsumerRuntime(
        settings, FakeSink(), consumer=consumer, dlq_producer=FakeProducer(), clock=clock
    )
    consumer.runtime = runtime
    runtime.run()
    assert consumer.consumed == [(7, 0.25)]


class _BuiltConsumer(FakeConsumer):
    """Stands in for confluent_kafka.Consumer: keeps the configuration it was built with."""

    built: list[_BuiltConsumer] = []

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(Clock())
        self.config = config
        _BuiltConsumer.built.append(self)


class _BuiltProducer(FakeProducer):
    """Stands in for shared.kafka.TradeProducer: keeps how it was built and how it was closed."""

    built: list[_BuiltProducer] = []

    def __init__(self, settings: Settings, client_id: str = "tradedata") -> None:
        super().__init__()
        self.settings, self.client_id = settings, client_id
        self.closed_with: list[float] = []
        _BuiltProducer.built.append(self)

    def close(self, timeout_s: float = 10.0) -> int:
        self.closed_with.append(timeout_s)
        return 0


def test_run_builds_its_kafka_clients_for_its_sink_and_closes_them_bounded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.consumer import runtime as runtime_module

    monkeypatch.setattr(runtime_module, "Consumer", _BuiltConsumer)
    monkeypatch.setattr(runtime_module, "TradeProducer", _BuiltProducer)
    _BuiltConsumer.built, _BuiltProducer.built = [], []
    sink = FakeSink()
    sink.name = "mongo"
    settings = Settings(consumer_instance_id="i7", trades_topic="t-in", kafka_bootstrap_servers="b:1")
    runtime = ConsumerRuntime(settings, sink)
    monkeypatch.setattr(_BuiltConsumer, "consume", lambda self, num_messages, timeout: runtime.stop() or [])
    with caplog.at_level(logging.INFO, logger="shared.consumer"):
        assert runtime.run() == 0
    [consumer] = _BuiltConsumer.built
    assert consumer.config["group.id"] == "tradestore-mongo"
    assert consumer.config["client.id"] == "kafkaconsumer-i7"
    assert consumer.config["bootstrap.servers"] == "b:1"
    assert consumer.config["enable.auto.offset.store"] is False
    assert consumer.subscribed == [["t-in"]]
    assert consumer.closed
    assert sink.closed
    [producer] = _BuiltProducer.built
    assert (producer.settings, producer.client_id) == (settings, "kafkaconsumer-i7-dlq")
    assert producer.closed_with == [5.0]  # its queue flushed, for 5 s at most
    lines = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith(("mongo store", "mongo consumer"))
    ]
    assert lines == [
        "mongo store reachable",
        "mongo consumer kafkaconsumer-i7 subscribed to t-in",
        "mongo consumer closed",
    ]


def test_a_dead_letter_producer_handed_in_is_used_and_left_open(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.consumer import runtime as runtime_module

    monkeypatch.setattr(runtime_module, "TradeProducer", _BuiltProducer)
    _BuiltProducer.built = []
    shared_producer = _BuiltProducer(Settings())
    consumer = FakeConsumer(Clock(), [[Msg(0, b"nope", b"k")]])
    runtime = ConsumerRuntime(
        Settings(trades_dlq_topic="dlq"), FakeSink(), consumer=consumer, dlq_producer=shared_producer
    )
    consumer.runtime = runtime
    runtime.run()
    assert _BuiltProducer.built == [shared_producer]  # no producer of its own
    assert [letter["topic"] for letter in shared_producer.sent] == ["dlq"]
    assert shared_producer.closed_with == []  # its owner closes it


def test_the_probe_listens_on_every_interface_at_the_configured_port_unless_told_another() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        runtime = ConsumerRuntime(
            Settings(metrics_port=busy),
            FakeSink(),
            consumer=FakeConsumer(Clock()),
            dlq_producer=FakeProducer(),
        )
        port = runtime.start_probe(port=0)  # told another (0: any free one): the busy setting is not used
        try:
            assert port not in (0, busy)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                assert r.status == 200
        finally:
            assert runtime._probe is not None
            runtime._probe.stop()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    runtime = ConsumerRuntime(
        Settings(metrics_port=free), FakeSink(), consumer=FakeConsumer(Clock()), dlq_producer=FakeProducer()
    )
    try:
        assert runtime.start_probe() == free  # the default host is every interface, loopback included
        with urllib.request.urlopen(f"http://127.0.0.1:{free}/health", timeout=2) as r:
            assert r.status == 200
    finally:
        assert runtime._probe is not None
        runtime._probe.stop()


class _Lagging(FakeConsumer):
    """Holds its partitions at offset 3 while the broker has 10 records in each: records wait."""

    def position(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, 3) for tp in tps]

    def get_watermark_offsets(
        self, tp: TopicPartition, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]:
        return (0, 10)


def test_an_idle_runtime_that_fetches_nothing_while_records_wait_turns_not_ready() -> None:
    clock = Clock()
    consumer = _Lagging(clock)
    settings = Settings(consumer_stall_s=3.0)
    runtime = ConsumerRuntime(
        settings, FakeSink(), consumer=consumer, dlq_producer=FakeProducer(), clock=clock
    )
    consumer.runtime = runtime
    runtime.run()
    runtime._stop.clear()
    consumer.consume = lambda num_messages, timeout: []  # type: ignore[method-assign]
    readiness = []
    for t in (1.0, 2.0, 3.0, 4.0):
        clock.t = t
        runtime.poll_once()
        readiness.append(runtime.ready())
    assert readiness == [True, True, True, False]  # records waiting since t=1, nothing fetched for 3 s
    assert runtime.metrics.value("tradestore_consumer_stalled") == 1
