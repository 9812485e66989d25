"""One batch through shared.consumer.pipeline with recording fakes (no broker, no runtime): what is stored,
what is dead-lettered with which detail, which verdicts are published, what is logged and counted, and which
store calls a batch makes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pytest

from fixtures.fake_store import FakeStore
from shared.consumer.batch import DeadLetter, Inbound, Reason, decode, next_offsets
from shared.consumer.dlq import DeadLetterPublisher, DeadLetterUnavailable, headers_for
from shared.consumer.isolation import write_isolating
from shared.consumer.metrics import RuntimeMetrics
from shared.consumer.outcomes import OutcomePublisher
from shared.consumer.pipeline import BatchPipeline
from shared.errors import PublishUnavailable
from shared.kafka import Delivery
from shared.outcomes import Outcome, parse_outcome
from shared.ports import StoredTrade, WriteResult
from shared.schema import SAMPLE_TRADE, TradePayload

T = TypeVar("T")
TODAY = date(2025, 10, 1)
NOW = datetime(2025, 10, 1, 12, tzinfo=UTC)


class Producer:
    """Records every send (dead letters and verdicts apart) and acknowledges it at once."""

    def __init__(self) -> None:
        self.letters: list[dict[str, Any]] = []
        self.outcomes: list[Outcome] = []

    def send(
        self, topic: str, value: Any, key: Any, headers: Sequence[tuple[str, bytes]] | None = None
    ) -> Future[Delivery]:
        if topic == "outcomes":
            outcome = parse_outcome(value)
            assert outcome is not None
            self.outcomes.append(outcome)
        else:
            self.letters.append({"topic": topic, "key": key, "value": value, "headers": dict(headers or [])})
        future: Future[Delivery] = Future()
        future.set_result(Delivery(topic, 0, 0))
        return future


class Batch:
    """A pipeline over a FakeStore; `run(records)` processes one batch, calling the store directly (no
    retry: a store call on a store that is down raises) and records whether the offsets were stored."""

    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store or FakeStore()
        self.producer = Producer()
        self.metrics = RuntimeMetrics(self.store.name)
        self.pipeline = BatchPipeline(
            self.store,
            DeadLetterPublisher(self.producer, "dlq", self.store.name),
            self.metrics,
            lambda: TODAY,
            lambda: NOW,
            OutcomePublisher(self.producer, "outcomes"),
        )
        self.commits = 0

    def run(self, records: Sequence[Inbound]) -> None:
        def direct(action: Callable[[], T], store: bool = True) -> T:
            return action()

        def commit() -> None:
            self.commits += 1

        self.pipeline.process(records, direct, commit)

    def reasons(self) -> list[bytes]:
        return [letter["headers"]["dlq.reason"] for letter in self.producer.letters]


def record(offset: int, partition: int = 0, **changes: Any) -> Inbound:
    trade = {**SAMPLE_TRADE, **changes}
    key = f"{trade['trade_id']}:{trade['version']}:{trade['book_id']}".encode()
    return Inbound("trades", partition, offset, key, json.dumps(trade).encode())


def stored(offset: int, partition: int = 0, **changes: Any) -> StoredTrade:
    return StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, **changes}), partition, offset, NOW)


def test_a_batch_of_bad_records_only_is_dead_lettered_and_committed_without_asking_the_store() -> None:
    """Nothing to write, nothing to compare: the store is not called, so a store outage does not hold up
    a batch that only carries bad data (the direct `retry` here raises on any store call)."""
    batch = Batch()
    batch.store.down = True
    batch.run([Inbound("trades", 0, 0, b"k", b"{oops"), Inbound("trades", 0, 1, b"k", b"[1]")])
    assert batch.reasons() == [b"undecodable", b"undecodable"]
    assert batch.commits == 1
    assert batch.store.writes == 0


def test_a_version_the_store_guard_refuses_names_the_versions_and_the_trade_in_its_detail() -> None:
    store = FakeStore()
    store.rows[("T-1001", 5, "B-1")] = stored(40, version=5)
    store.max_versions = lambda ids: {}  # type: ignore[method-assign]  # a racing writer not seen yet
    batch = Batch(store)
    batch.run([record(0, version=2)])
    [letter] = batch.producer.letters
    assert letter["headers"]["dlq.reason"] == b"lower_version"
    assert letter["headers"]["dlq.detail"] == b"version 2 < stored 5 for T-1001 (store race guard)"
    [verdict] = batch.producer.outcomes
    # the verdict names the version the store's guard found held, though the versions read missed it
    assert (verdict.state.value, verdict.reason, verdict.max_version) == ("rejected", "lower_version", 5)
    assert batch.metrics.value("tradestore_persisted_total") == 0
    assert batch.commits == 1


def test_a_redelivered_record_the_store_guard_flags_is_acknowledged_as_stored_not_dead_lettered() -> None:
    """The store holds v2 written from this very record (partition 0, offset 7) and a later v5; the version
    read missed v5 (a racing view), so the store's guard flags v2 as stale: it is a redelivery, not a
    stale copy, and is acknowledged without a dead letter."""
    store = FakeStore()
    store.rows[("T-1001", 2, "B-1")] = stored(7, version=2)
    store.rows[("T-1001", 5, "B-1")] = stored(8, version=5)
    store.max_versions = lambda ids: {}  # type: ignore[method-assign]
    batch = Batch(store)
    batch.run([record(7, version=2)])
    assert batch.producer.letters == []
    [verdict] = batch.producer.outcomes
    assert (verdict.state.value, verdict.version, verdict.position) == ("stored", 2, (0, 7))
    assert batch.metrics.value("tradestore_replayed_total") == 1


def test_a_lower_version_verdict_names_the_version_the_store_holds() -> None:
    store = FakeStore()
    store.rows[("T-1001", 5, "B-1")] = stored(3, version=5)
    batch = Batch(store)
    batch.run([record(9, version=2)])
    [verdict] = batch.producer.outcomes
    assert (verdict.state.value, verdict.reason, verdict.max_version) == ("rejected", "lower_version", 5)
    assert batch.reasons() == [b"lower_version"]
    assert batch.producer.letters[0]["headers"]["dlq.detail"] == b"version 2 < stored 5 for T-1001"


def test_a_replayed_batch_is_logged_once_with_the_count_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    batch = Batch()
    records = [record(0, version=1), record(1, version=2), record(2, version=3)]
    batch.run(records)
    with caplog.at_level(logging.INFO, logger="shared.consumer"):
        batch.run(records)  # redelivered after a crash before the commit: v1 and v2 are below the stored v3
    lines = [r.getMessage() for r in caplog.records if "redelivered" in r.getMessage()]
    assert lines == ["fake: 2 redelivered record(s) already stored, acknowledged"]
    assert batch.metrics.value("tradestore_replayed_total") == 2
    assert batch.producer.letters == []


def test_the_persisted_count_leaves_out_what_the_store_refused_or_found_stale() -> None:
    store = FakeStore()
    store.poison.add("T-BAD")
    store.rows[("T-OLD", 9, "B-1")] = stored(0, trade_id="T-OLD", version=9)
    store.max_versions = lambda ids: {}  # type: ignore[method-assign]
    batch = Batch(store)
    batch.run(
        [record(0, trade_id="T-A"), record(1, trade_id="T-BAD"), record(2, trade_id="T-OLD", version=2)]
    )
    assert batch.metrics.value("tradestore_persisted_total") == 1
    assert sorted(batch.reasons()) == [b"lower_version", b"store_rejected"]
    assert batch.metrics.value("tradestore_dead_letters_total", reason="store_rejected") == 1
    assert batch.metrics.value("tradestore_dead_letters_total", reason="lower_version") == 1


def test_a_schema_refusal_names_every_invalid_field_in_its_detail() -> None:
    letter = decode(record(0, version="x", book_id=5), TODAY)
    assert isinstance(letter, DeadLetter)
    assert letter.reason is Reason.SCHEMA_INVALID
    assert letter.detail == (
        "book_id: Input should be a valid string; version: Input should be a valid integer"
    )


def test_the_dead_letter_detail_header_is_cut_at_1000_characters() -> None:
    letter = DeadLetter(
        Inbound("trades", 3, 4, b"k", b"v"), Reason.STORE_REJECTED, "x" * 999 + "yz" + "w" * 500
    )
    headers = dict(headers_for(letter, "sql"))
    assert headers["dlq.detail"] == b"x" * 999 + b"y"
    assert (headers["dlq.sink"], headers["dlq.topic"]) == (b"sql", b"trades")


def test_the_offset_to_commit_is_one_past_the_highest_offset_of_each_partition_in_any_order() -> None:
    records = [record(9), record(4), record(2, partition=1), record(0, partition=1)]
    assert next_offsets(records) == {("trades", 0): 10, ("trades", 1): 3}


def test_isolating_an_empty_batch_writes_nothing_and_reports_nothing_written() -> None:
    store = FakeStore()
    assert write_isolating(store, []) == WriteResult(written=0)
    assert store.writes == 0


class _Future(Future[Delivery]):
    """A delivery future that keeps the timeout it was waited with."""

    def __init__(self, waited: list[float | None]) -> None:
        super().__init__()
        self._waited = waited

    def result(self, timeout: float | None = None) -> Delivery:
        self._waited.append(timeout)
        return super().result(timeout)


class _Sends:
    """Sends that fail their acknowledgement with the next of `errors` (None: acknowledged)."""

    def __init__(self, errors: Sequence[str | None]) -> None:
        self.errors = list(errors)
        self.waited: list[float | None] = []

    def send(
        self, topic: str, value: Any, key: Any, headers: Sequence[tuple[str, bytes]] | None = None
    ) -> Future[Delivery]:
        future = _Future(self.waited)
        error = self.errors.pop(0)
        if error is None:
            future.set_result(Delivery(topic, 0, 0))
        else:
            future.set_exception(PublishUnavailable(error))
        return future


def _letters(n: int) -> list[DeadLetter]:
    return [DeadLetter(Inbound("trades", 0, i, b"k", b"v"), Reason.UNDECODABLE, "bad") for i in range(n)]


def test_unacknowledged_dead_letters_fail_the_publish_naming_the_topic_and_the_first_failure() -> None:
    sends = _Sends([None, "broker gone", "disk full"])
    with pytest.raises(DeadLetterUnavailable) as failure:
        DeadLetterPublisher(sends, "trades.dlq", "mongo").publish(_letters(3))
    assert str(failure.value) == "dead-letter topic 'trades.dlq' did not acknowledge: broker gone"


def test_a_dead_letter_the_producer_refuses_fails_the_publish_naming_the_topic() -> None:
    class Full:
        def send(self, topic: str, value: Any, key: Any, headers: Any = None) -> Future[Delivery]:
            raise PublishUnavailable("producer queue is full")

    with pytest.raises(DeadLetterUnavailable) as failure:
        DeadLetterPublisher(Full(), "trades.dlq", "mongo").publish(_letters(1))
    assert str(failure.value) == "dead-letter topic 'trades.dlq': producer queue is full"


def test_the_dead_letter_acknowledgements_are_awaited_ten_seconds_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The runtime builds its publisher with the default: a broker that never answers holds a batch 10 s
    before the retry (the clock is frozen here, so the whole budget is left for the one letter)."""
    from types import SimpleNamespace

    from shared.kafka import producer as producer_module

    monkeypatch.setattr(producer_module, "time", SimpleNamespace(monotonic=lambda: 1000.0))
    sends = _Sends([None])
    DeadLetterPublisher(sends, "trades.dlq", "mongo").publish(_letters(1))
    assert sends.waited == [10.0]
