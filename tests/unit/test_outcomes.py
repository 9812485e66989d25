"""Trade outcomes without a broker: the events a sink publishes, the verdict of several sinks, the
`Prefer: wait` parsing and answers, and the API's watcher resolving waiters (race included)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future
from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.consumer.batch import DeadLetter, Inbound, Plan, Reason
from shared.consumer.outcomes import (
    Event,
    OutcomePublisher,
    OutcomesUnavailable,
    batch_outcomes,
    outcome_events,
    stored_event,
)
from shared.errors import PublishUnavailable, StoreUnavailable
from shared.outcomes import LOWER_VERSION_TYPE, Outcome, State, combine, parse_outcome
from shared.ports import StoredTrade, WriteResult
from shared.schema import TradePayload
from shared.settings import Settings
from tradedata.outcomes import OutcomeWatcher
from tradedata.prefer import answer_after_verdict, requested_wait, status_path

NOW = datetime(2025, 10, 1, tzinfo=UTC)


def _trade(version: int, trade_id: str = "T-1") -> TradePayload:
    return TradePayload(
        trade_id=trade_id,
        counterparty_id="CP-1",
        book_id="B-1",
        version=version,
        maturity_date=date(2030, 1, 15),
        created_date=date(2025, 9, 28),
    )


def _outcome(sink: str, state: State, offset: int = 7, version: int = 1, **extra: Any) -> Outcome:
    return Outcome("T-1", version, "B-1", state, sink, 2, offset, **extra)


# --- sink side ----------------------------------------------------------------------------------


def test_batch_outcomes_name_stored_replayed_and_rejected_records_with_the_stored_max() -> None:
    written = [StoredTrade(_trade(3), 1, 10, NOW)]
    stale = DeadLetter(
        Inbound("trades", 1, 11, b"T-1:2:B-1", b"{}"), Reason.LOWER_VERSION, "2 < 3", _trade(2)
    )
    replay = DeadLetter(Inbound("trades", 1, 4, b"T-1:1:B-1", b"{}"), Reason.LOWER_VERSION, "", _trade(1))
    junk = DeadLetter(Inbound("trades", 0, 5, b"X:7:B", b"nope"), Reason.UNDECODABLE, "not JSON")
    keyless = DeadLetter(Inbound("trades", 0, 6, None, b"nope"), Reason.UNDECODABLE, "not JSON")

    events = batch_outcomes("mongo", written, [stale, junk, keyless], {"T-1": 1}, replays=[replay])

    by_offset = {e.offset: e for e in events}
    assert sorted(by_offset) == [4, 5, 10, 11]
    assert by_offset[10].state is State.STORED
    assert by_offset[4].state is State.STORED  # a redelivery of what is stored: stored
    assert (by_offset[11].state, by_offset[11].reason, by_offset[11].max_version) == (
        State.REJECTED,
        "lower_version",
        3,
    )
    assert (by_offset[5].key, by_offset[5].reason, by_offset[5].max_version) == (
        ("X", 7, "B"),
        "undecodable",
        None,
    )


def _written(trade: TradePayload, offset: int) -> tuple[StoredTrade, Inbound]:
    source = Inbound("trades", 3, offset, trade.kafka_key(), b"{}")
    return StoredTrade(trade, 3, offset, NOW), source


def test_outcome_events_are_the_events_of_batch_outcomes_for_the_records_the_store_took() -> None:
    """The fast events (no Outcome built for a stored record) carry the same keys and bytes, in the same
    order, as the Outcomes batch_outcomes names: stored, then replays, then rejected with the max version
    the store holds (the stored max, the guard's stale max, or a version this batch wrote)."""
    odd = TradePayload.model_validate({**_trade(1).model_dump(), "trade_id": 'Q"\\é🙂'})
    pairs = [
        _written(_trade(4, "T-9"), 20),
        _written(_trade(2), 21),
        _written(odd, 22),
        _written(_trade(5), 23),
    ]
    pairs += [_written(_trade(1, "T-8"), 24)]
    writes, sources = [p[0] for p in pairs], [p[1] for p in pairs]
    result = WriteResult(3, stale={("T-1", 2, "B-1"): 6}, refused={("T-8", 1, "B-1"): "too long"})
    stale = DeadLetter(sources[1], Reason.LOWER_VERSION, "2 < 6", _trade(2))
    refused = DeadLetter(sources[4], Reason.STORE_REJECTED, "too long", _trade(1, "T-8"))
    lower = DeadLetter(
        Inbound("trades", 3, 25, b"T-9:3:B-1", b"{}"), Reason.LOWER_VERSION, "3 < 4", _trade(3, "T-9")
    )
    replay = DeadLetter(
        Inbound("trades", 3, 2, b"T-7:1:B-1", b"{}"), Reason.LOWER_VERSION, "", _trade(1, "T-7")
    )
    junk = DeadLetter(Inbound("trades", 3, 26, b"X:7:B", b"nope"), Reason.UNDECODABLE, "not JSON")
    letters = [lower, junk, stale, refused]
    plan = Plan(writes, [lower], sources)

    events = outcome_events("sql", plan, result, letters, {"T-1": 1}, [replay])

    took = [w for w in writes if w.key not in (("T-1", 2, "B-1"), ("T-8", 1, "B-1"))]
    top = {"T-1": 6}
    expected = batch_outcomes("sql", took, letters, top, [replay])
    assert events == [Event.of(o) for o in expected]
    assert [json.loads(e.value)["offset"] for e in events] == [20, 22, 23, 2, 25, 26, 21, 24]
    assert json.loads(events[4].value)["max_version"] == 4  # a version this batch wrote
    assert json.loads(events[6].value)["max_version"] == 6  # what the store's guard found held
    assert outcome_events("sql", plan, WriteResult(5), [], {}, []) == [
        Event.of(
            Outcome(w.trade.trade_id, w.trade.version, w.trade.book_id, State.STORED, "sql", 3, w.offset)
        )
        for w in writes
    ]


def test_a_stored_event_is_the_stored_outcome_byte_for_byte() -> None:
    trade = TradePayload.model_validate({**_trade(7).model_dump(), "trade_id": 'T\u2028"x', "book_id": "b é"})
    outcome = Outcome(trade.trade_id, 7, trade.book_id, State.STORED, "mongo", 3, 99)
    assert stored_event("mongo", trade, trade.kafka_key(), 3, 99) == Event.of(outcome)
    assert parse_outcome(stored_event("mongo", trade, trade.kafka_key(), 3, 99).value) == outcome


def test_an_outcome_round_trips_through_its_record_and_junk_is_ignored() -> None:
    event = _outcome("sql", State.REJECTED, reason="lower_version", detail="d", max_version=2)
    assert event.record_key() == b"T-1:1:B-1"
    assert parse_outcome(event.to_bytes()) == event
    assert parse_outcome(b"not json") is None
    assert parse_outcome(json.dumps({"state": "stored"}).encode()) is None
    assert parse_outcome(json.dumps({**json.loads(event.to_bytes()), "state": "lost"}).encode()) is None


class FakeProducer:
    """TradeProducer.send: a Future per record, failed with `fail` or never resolved when `hang`."""

    def __init__(self, fail: Exception | None = None, hang: bool = False, refuse: bool = False) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail, self.hang, self.refuse = fail, hang, refuse

    def send(self, topic: str, value: bytes, key: bytes) -> Future[Any]:
        if self.refuse:
            raise PublishUnavailable("queue full")
        self.sent.append((topic, key, value))
        future: Future[Any] = Future()
        if self.fail is not None:
            future.set_exception(self.fail)
        elif not self.hang:
            future.set_result(None)
        return future


def test_the_publisher_waits_for_every_acknowledgement_or_raises_a_retryable_error() -> None:
    events = [_outcome("mongo", State.STORED)]
    ok = FakeProducer()
    OutcomePublisher(ok, "trades.outcomes").publish(events)
    assert ok.sent == [("trades.outcomes", b"T-1:1:B-1", events[0].to_bytes())]
    with pytest.raises(OutcomesUnavailable, match="did not acknowledge: broker down"):
        OutcomePublisher(FakeProducer(fail=PublishUnavailable("broker down")), "t").publish(events)
    with pytest.raises(OutcomesUnavailable, match="no acknowledgement in time"):
        OutcomePublisher(FakeProducer(hang=True), "t", timeout_s=0.01).publish(events)
    with pytest.raises(OutcomesUnavailable, match="queue full"):
        OutcomePublisher(FakeProducer(refuse=True), "t").publish(events)
    assert issubclass(OutcomesUnavailable, StoreUnavailable)  # retried like a store outage, nothing committed


# --- the verdict of several sinks ------------------------------------------------------------


def test_stored_needs_every_expected_sink_and_one_rejection_decides() -> None:
    both = {"mongo", "sql"}
    assert combine({}, both).state is State.PENDING
    assert combine({"mongo": _outcome("mongo", State.STORED)}, both).state is State.PENDING
    stored = {"mongo": _outcome("mongo", State.STORED), "sql": _outcome("sql", State.STORED)}
    assert combine(stored, both).state is State.STORED
    rejected = combine({"sql": _outcome("sql", State.REJECTED, reason="lower_version", max_version=4)}, both)
    assert (rejected.state, rejected.reason, rejected.max_version) == (State.REJECTED, "lower_version", 4)
    assert rejected.summary() == {"sql": {"state": "rejected", "reason": "lower_version", "detail": None}}


# --- Prefer: wait ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], None),
        (["wait=5"], 5),
        (["respond-async, wait=10"], 10),
        (["handling=lenient; foo=bar, Wait = 3"], 3),
        (['wait="7"'], 7),
        (["wait=999"], 30),
        (["wait=soon"], None),
        (["return=minimal"], None),
    ],
)
def test_prefer_wait_is_read_per_rfc_7240_and_capped(headers: list[str], expected: int | None) -> None:
    assert requested_wait(headers, cap_s=30) == expected


def test_the_status_location_is_url_safe() -> None:
    assert status_path("T 1/x", 2, "B&1") == "/trades/T%201%2Fx/status?version=2&book_id=B%261"


class FakeConsumer:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _watcher() -> OutcomeWatcher:
    return OutcomeWatcher(Settings(tradedata_outcome_sinks="mongo,sql"), consumer_factory=FakeConsumer)


ACCEPTED = {"trade_id": "T-1", "version": 1, "book_id": "B-1", "topic": "trades", "partition": 2, "offset": 7}


def test_a_verdict_recorded_before_the_waiter_registers_is_found_in_the_cache() -> None:
    watcher = _watcher()
    watcher.record(_outcome("mongo", State.STORED))
    watcher.record(_outcome("sql", State.STORED))
    response = asyncio.run(answer_after_verdict(watcher, ACCEPTED, 5, "/trades/T-1"))
    assert response.status_code == 201
    assert response.headers["preference-applied"] == "wait=5"
    assert json.loads(response.body) == ACCEPTED


def test_a_rejection_arriving_while_waiting_answers_409_naming_the_stored_version() -> None:
    watcher = _watcher()

    async def scenario() -> Any:
        waiting = asyncio.create_task(answer_after_verdict(watcher, ACCEPTED, 5, "/trades/T-1"))
        await asyncio.sleep(0)  # the waiter registers first
        watcher.record(
            _outcome("mongo", State.REJECTED, reason="lower_version", detail="1 < 2", max_version=2)
        )
        return await waiting

    response = asyncio.run(scenario())
    problem = json.loads(response.body)
    assert response.status_code == 409
    assert response.media_type == "application/problem+json"
    assert problem["type"] == LOWER_VERSION_TYPE
    assert problem["stored_version"] == 2
    assert "version 2 is already stored" in problem["detail"]
    assert problem["status_url"] == "/trades/T-1/status?version=1&book_id=B-1"


def test_an_outcome_for_another_record_at_that_position_does_not_answer() -> None:
    watcher = _watcher()
    watcher.record(_outcome("mongo", State.STORED, version=9))
    watcher.record(_outcome("sql", State.STORED, version=9))
    response = asyncio.run(answer_after_verdict(watcher, ACCEPTED, 0, "/trades/T-1"))
    assert response.status_code == 202
    assert response.headers["location"] == "/trades/T-1/status?version=1&book_id=B-1"
    assert json.loads(response.body)["state"] == "pending"


def test_no_verdict_in_time_gives_202_and_a_partial_verdict_stays_pending() -> None:
    watcher = _watcher()
    watcher.record(_outcome("mongo", State.STORED))
    response = asyncio.run(answer_after_verdict(watcher, ACCEPTED, 0, "/trades/T-1"))
    assert response.status_code == 202
    verdict = watcher.verdict(("T-1", 1, "B-1"))
    assert verdict is not None
    assert verdict.state is State.PENDING
    assert watcher.verdict(("T-1", 5, "B-1")) is None


def test_other_refusals_get_their_own_problem_type() -> None:
    watcher = _watcher()
    watcher.record(_outcome("sql", State.REJECTED, reason="store_rejected", detail="value too long"))
    response = asyncio.run(answer_after_verdict(watcher, ACCEPTED, 1, "/trades/T-1"))
    problem = json.loads(response.body)
    assert problem["type"].endswith("/store-rejected")
    assert "value too long" in problem["detail"]


def test_the_cache_keeps_only_the_most_recent_records() -> None:
    watcher = OutcomeWatcher(Settings(tradedata_outcome_cache=2, tradedata_outcome_sinks="mongo"))
    for offset in range(3):
        watcher.record(Outcome("T-1", offset + 1, "B-1", State.STORED, "mongo", 0, offset))
    assert watcher.verdict(("T-1", 1, "B-1")) is None
    found = watcher.verdict(("T-1", 3, "B-1"))
    assert found is not None
    assert found.state is State.STORED
