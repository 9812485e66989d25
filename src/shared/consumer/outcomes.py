"""The sink's outcome events: one per processed record of `trades`, published to TRADES_OUTCOMES_TOPIC after
the write and the dead letters and before the offsets are stored, acknowledged like dead letters.

A record that was stored (or was already stored: a redelivery) is `stored`; a dead-lettered one is `rejected`
with the dead-letter reason. The API turns them into answers (`Prefer: wait`, GET .../status).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, NamedTuple, Protocol

import orjson

from shared.consumer.batch import DeadLetter, Plan, Reason
from shared.consumer.stored_events import stored_values
from shared.errors import PublishUnavailable, StoreUnavailable
from shared.kafka import TradeProducer
from shared.kafka.producer import unacknowledged
from shared.outcomes import Outcome, State
from shared.ports import WriteResult
from shared.schema import TradePayload


class OutcomesUnavailable(StoreUnavailable):
    """The broker did not acknowledge the outcome events: the batch is retried like a store outage."""


class Sender(Protocol):
    """What the publisher needs of shared.kafka.TradeProducer (the sink's dead-letter producer)."""

    def send(self, topic: str, value: bytes, key: bytes) -> Future[Any]: ...


class Written(Protocol):
    """A record the store now holds (shared.ports.StoredTrade)."""

    @property
    def trade(self) -> TradePayload: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


def _key_parts(key: bytes | None) -> tuple[str, int, str] | None:
    """(trade_id, version, book_id) from a record key, when it has that shape."""
    try:
        trade_id, version, book_id = (key or b"").decode().split(":")
        return (trade_id, int(version), book_id)
    except ValueError:
        return None


def batch_outcomes(
    sink: str,
    written: Iterable[Written],
    letters: Iterable[DeadLetter],
    stored_max: Mapping[str, int] | None = None,
    replays: Iterable[DeadLetter] = (),
) -> list[Outcome]:
    """The outcome of every record of a batch that names a trade (a key without that shape has none)."""
    out: list[Outcome] = []
    top: dict[str, int] = dict(stored_max or {})
    for record in written:
        t = record.trade
        top[t.trade_id] = max(top.get(t.trade_id, 0), t.version)
        out.append(
            Outcome(t.trade_id, t.version, t.book_id, State.STORED, sink, record.partition, record.offset)
        )
    for letter in replays:  # a redelivery of a record already stored from this very position
        if letter.trade is not None:
            t = letter.trade
            r = letter.record
            out.append(Outcome(t.trade_id, t.version, t.book_id, State.STORED, sink, r.partition, r.offset))
    for letter in letters:
        parts = letter.trade.key if letter.trade is not None else _key_parts(letter.record.key)
        if parts is None:
            continue
        lower = letter.reason is Reason.LOWER_VERSION
        out.append(
            Outcome(
                *parts,
                state=State.REJECTED,
                sink=sink,
                partition=letter.record.partition,
                offset=letter.record.offset,
                reason=letter.reason.value,
                detail=letter.detail,
                max_version=top.get(parts[0]) if lower else None,
            )
        )
    return out


class Event(NamedTuple):
    """An outcome ready to send: the trade_id it is partitioned by, its record key and its JSON value."""

    trade_id: str
    key: bytes
    value: bytes

    @classmethod
    def of(cls, outcome: Outcome) -> Event:
        return cls(outcome.trade_id, outcome.record_key(), outcome.to_bytes())


def stored_event(sink: str, trade: TradePayload, key: bytes, partition: int, offset: int) -> Event:
    """Event.of(the `stored` Outcome of a written record), without building the Outcome (4 of the ~10 us a
    record's outcome cost, issue 14): the same bytes, field for field in Outcome's order (pinned by a
    test). `key` is the source record's key, which decoding proved equal to `trade_id:version:book_id`."""
    value = {
        "trade_id": trade.trade_id,
        "version": trade.version,
        "book_id": trade.book_id,
        "state": "stored",
        "sink": sink,
        "partition": partition,
        "offset": offset,
        "reason": None,
        "detail": None,
        "max_version": None,
    }
    return Event(trade.trade_id, key, orjson.dumps(value))


def outcome_events(
    sink: str,
    plan: Plan,
    result: WriteResult,
    letters: Sequence[DeadLetter],
    stored_max: Mapping[str, int],
    replays: Sequence[DeadLetter],
) -> list[Event]:
    """The outcomes of a processed batch (shared.consumer.pipeline), as events: the planned writes the store
    took are stored; the store's stale and refused records are among `letters`, rejected. The same events,
    in the same order, as batch_outcomes gives for the records the store took (tested)."""
    refused = set(result.stale) | set(result.refused)
    took = list(zip(plan.writes, plan.sources, strict=True))
    if refused:
        took = [(record, source) for record, source in took if record.key not in refused]
    values = stored_values(sink, [record for record, _ in took])
    if values is None:  # a string msgspec cannot encode: one by one, as orjson does (or fails)
        events = [stored_event(sink, r.trade, s.key or b"", r.partition, r.offset) for r, s in took]
    else:
        events = [Event(r.trade.trade_id, s.key or b"", v) for (r, s), v in zip(took, values, strict=True)]
    if letters or replays:
        top = dict(stored_max)  # plus what the store's guard found held (a writer the versions read missed)
        for (trade_id, _version, _book), held in result.stale.items():
            top[trade_id] = max(top.get(trade_id, 0), held)
        for record in plan.writes:
            if record.key not in refused:
                top[record.trade.trade_id] = max(top.get(record.trade.trade_id, 0), record.trade.version)
        events += [Event.of(o) for o in batch_outcomes(sink, [], letters, top, replays)]
    return events


class OutcomePublisher:
    """Produce outcome events through the sink's producer (the one its dead letters use) and wait until the
    broker acknowledged all of them."""

    def __init__(self, producer: Sender, topic: str, timeout_s: float = 10.0) -> None:
        self.producer = producer
        self.topic = topic
        self.timeout_s = timeout_s

    def publish(self, outcomes: Sequence[Outcome | Event]) -> None:
        """Send and wait; raise OutcomesUnavailable unless every event was acknowledged."""
        events = [o if isinstance(o, Event) else Event.of(o) for o in outcomes]
        if isinstance(self.producer, TradeProducer):
            return self._publish_many(self.producer, events)
        futures: list[Future[Any]] = []
        for event in events:
            try:
                futures.append(self.producer.send(self.topic, event.value, event.key))
            except PublishUnavailable as exc:
                raise OutcomesUnavailable(f"outcomes topic {self.topic!r}: {exc}") from None
        errors = unacknowledged(futures, self.timeout_s)
        if errors:
            raise OutcomesUnavailable(f"outcomes topic {self.topic!r} did not acknowledge: {errors[0]}")

    def _publish_many(self, producer: TradeProducer, outcomes: Sequence[Event]) -> None:
        """The same through `send_many`: one callback per record and one wait, no Future per record (the
        per-record Futures were ~20% of a draining consumer's samples, issue 14)."""
        acked = _Acks(len(outcomes))
        try:
            queued = producer.send_many(self.topic, outcomes, acked.delivered, indexed=False)
        except PublishUnavailable as exc:
            raise OutcomesUnavailable(f"outcomes topic {self.topic!r}: {exc}") from None
        acked.forget(len(outcomes) - queued)
        if queued < len(outcomes):
            raise OutcomesUnavailable(f"outcomes topic {self.topic!r}: producer queue full")
        if not acked.done.wait(self.timeout_s):
            raise OutcomesUnavailable(
                f"outcomes topic {self.topic!r} did not acknowledge: no acknowledgement in time"
            )
        if acked.errors:
            raise OutcomesUnavailable(f"outcomes topic {self.topic!r} did not acknowledge: {acked.errors[0]}")


class _Acks:
    """Delivery reports of one publish, counted down on the delivery thread."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._pending = count
        self.errors: list[str] = []
        self.done = threading.Event()
        if count == 0:
            self.done.set()

    def delivered(self, _index: int, err: Any, _msg: Any) -> None:
        if err is not None:
            self.errors.append(err.str())
        self.forget(1)

    def forget(self, count: int) -> None:
        if count <= 0:
            return
        with self._lock:
            self._pending -= count
            finished = self._pending <= 0
        if finished:
            self.done.set()
