"""Outcome events through TradeProducer.send_many over a librdkafka stand-in: the `stored` values encoded in
one msgspec call are Outcome's own bytes for any string; one callback object serves a whole batch
(indexed=False) while the API's indexed reports are unchanged; the publisher waits for every
acknowledgement."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.consumer.batch import Inbound, Plan
from shared.consumer.outcomes import Event, OutcomePublisher, OutcomesUnavailable, outcome_events
from shared.consumer.stored_events import ENABLED, stored_values
from shared.kafka import TradeProducer
from shared.kafka.partitioner import partition_for
from shared.outcomes import Outcome, State
from shared.ports import StoredTrade, WriteResult
from shared.schema import SAMPLE_TRADE, TradePayload

NOW = datetime(2026, 11, 30, tzinfo=UTC)


class Librdkafka:
    """The librdkafka Producer's produce: records kept; acknowledged at once unless `hold`, failed with
    `error`, or refused (BufferError) from record `full` on."""

    def __init__(self, hold: bool = False, error: KafkaError | None = None, full: int | None = None) -> None:
        self.produced: list[tuple[str, bytes, bytes, int, Any]] = []
        self.hold, self.error, self.full = hold, error, full

    def produce(self, topic: str, value: bytes, key: bytes, partition: int, on_delivery: Any) -> None:
        if self.full is not None and len(self.produced) >= self.full:
            raise BufferError("queue full")
        self.produced.append((topic, key, value, partition, on_delivery))
        if not self.hold:
            on_delivery(self.error, None)


class Producer(TradeProducer):
    def __init__(self, librdkafka: Librdkafka) -> None:  # no network, no delivery thread
        self._producer = librdkafka
        self._partitions = {"outcomes": 6}
        self._block_on_metadata = True
        self._fatal: KafkaError | None = None


def trade(trade_id: str, book_id: str = "B-1", version: int = 1) -> TradePayload:
    """Any strings (the events encode whatever a store took, not only what the model admits)."""
    return TradePayload.model_construct(
        **{**SAMPLE_TRADE, "trade_id": trade_id, "book_id": book_id, "version": version}
    )


def plan_of(trades: list[TradePayload]) -> Plan:
    keys = [f"{t.trade_id}:{t.version}:{t.book_id}".encode(errors="surrogatepass") for t in trades]
    sources = [Inbound("trades", 2, 10 + i, k, b"{}") for i, k in enumerate(keys)]
    writes = [StoredTrade(t, s.partition, s.offset, NOW) for t, s in zip(trades, sources, strict=True)]
    return Plan(writes, [], sources)


def as_outcomes(trades: list[TradePayload]) -> list[Event]:
    return [
        Event.of(Outcome(t.trade_id, t.version, t.book_id, State.STORED, "mongo", 2, 10 + i))
        for i, t in enumerate(trades)
    ]


ids = st.one_of(  # any text, and text heavy in control characters and lone surrogates
    st.text(min_size=1, max_size=20),
    st.text(st.characters(categories=["Cs", "Cc", "Lu"]), min_size=1, max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ids, ids, st.integers(1, 2**31 - 1)), min_size=1, max_size=5))
def test_stored_events_are_the_outcomes_bytes_for_any_string(parts: list[tuple[str, str, int]]) -> None:
    trades = [trade(i, b, v) for i, b, v in parts]
    plan = plan_of(trades)
    try:
        expected = as_outcomes(trades)
    except (orjson.JSONEncodeError, UnicodeEncodeError):  # a lone surrogate: the events fail as they did
        with pytest.raises(orjson.JSONEncodeError):
            outcome_events("mongo", plan, WriteResult(len(trades)), [], {}, [])
        assert stored_values("mongo", plan.writes) is None
        return
    assert outcome_events("mongo", plan, WriteResult(len(trades)), [], {}, []) == expected
    assert stored_values("mongo", plan.writes) == [e.value for e in expected]


def test_stored_values_take_the_batch_path_and_keep_order() -> None:
    assert ENABLED
    trades = [trade("T-1"), trade('Q"\\\u00e9\u2028\n'), trade("T-3", "B-2", 4)]
    values = stored_values("sql", plan_of(trades).writes)
    assert values is not None
    assert [json.loads(v)["trade_id"] for v in values] == ["T-1", 'Q"\\\u00e9\u2028\n', "T-3"]
    assert [json.loads(v)["offset"] for v in values] == [10, 11, 12]
    assert stored_values("sql", []) == []


def test_outcomes_go_through_one_callback_for_the_batch_partitioned_by_trade_id() -> None:
    librdkafka = Librdkafka()
    events = as_outcomes([trade(f"T-{i}") for i in range(5)])
    OutcomePublisher(Producer(librdkafka), "outcomes").publish(events)
    assert [(t, k, v) for t, k, v, _, _ in librdkafka.produced] == [
        ("outcomes", e.key, e.value) for e in events
    ]
    assert [p for *_, p, _ in librdkafka.produced] == [partition_for(e.trade_id, 6) for e in events]
    assert len({id(cb) for *_, cb in librdkafka.produced}) == 1  # no callback object per record


def test_indexed_reports_still_name_each_record_and_unindexed_ones_pass_minus_one() -> None:
    reports: list[tuple[int, Any]] = []
    records = [("T-1", b"k1", b"v1"), ("T-2", b"k2", b"v2"), ("T-3", b"k3", b"v3")]
    producer = Producer(Librdkafka())
    assert producer.send_many("outcomes", records, lambda i, err, _msg: reports.append((i, err))) == 3
    assert (
        producer.send_many("outcomes", records, lambda i, err, _m: reports.append((i, err)), indexed=False)
        == 3
    )
    assert reports == [(0, None), (1, None), (2, None), (-1, None), (-1, None), (-1, None)]


def test_the_publisher_raises_a_retryable_error_unless_every_event_is_acknowledged() -> None:
    events = as_outcomes([trade("T-1"), trade("T-2")])
    with pytest.raises(OutcomesUnavailable, match="no acknowledgement in time"):
        OutcomePublisher(Producer(Librdkafka(hold=True)), "outcomes", timeout_s=0.01).publish(events)
    failed = KafkaError(KafkaError._MSG_TIMED_OUT)
    with pytest.raises(OutcomesUnavailable, match="did not acknowledge: "):
        OutcomePublisher(Producer(Librdkafka(error=failed)), "outcomes").publish(events)
    with pytest.raises(OutcomesUnavailable, match="producer queue full"):
        OutcomePublisher(Producer(Librdkafka(full=1)), "outcomes").publish(events)
    with pytest.raises(OutcomesUnavailable, match="producer refused the batch"):
        OutcomePublisher(Producer(Librdkafka(full=0)), "outcomes").publish(events)
    OutcomePublisher(Producer(Librdkafka()), "outcomes", timeout_s=0.01).publish(events)  # all acknowledged


def test_a_fenced_delivery_of_an_outcome_marks_the_producer_for_replacement() -> None:
    fenced = KafkaError(KafkaError._FENCED)
    producer = Producer(Librdkafka(error=fenced))
    with pytest.raises(OutcomesUnavailable):
        OutcomePublisher(producer, "outcomes").publish(as_outcomes([trade("T-1")]))
    assert producer._fatal is fenced


def test_a_string_neither_library_encodes_fails_as_it_always_did() -> None:
    plan = plan_of([trade("T-1"), trade("T-\ud800")])  # a lone surrogate: orjson and msgspec refuse it
    assert stored_values("mongo", plan.writes) is None
    with pytest.raises(orjson.JSONEncodeError):
        outcome_events("mongo", plan, WriteResult(2), [], {}, [])
