"""The sink's outcome events: one per processed record of `trades`, published to TRADES_OUTCOMES_TOPIC after
the write and the dead letters and before the offsets are stored, acknowledged like dead letters.

A record that was stored (or was already stored: a redelivery) is `stored`; a dead-lettered one is `rejected`
with the dead-letter reason. The API turns them into answers (`Prefer: wait`, GET .../status).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from shared.consumer.batch import DeadLetter, Plan, Reason
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


def outcomes_of(
    sink: str,
    plan: Plan,
    result: WriteResult,
    letters: Iterable[DeadLetter],
    stored_max: Mapping[str, int],
    replays: Iterable[DeadLetter],
) -> list[Outcome]:
    """The outcomes of a processed batch (shared.consumer.pipeline): the planned writes the store took are
    stored; the store's stale and refused records are among `letters`, rejected."""
    refused = set(result.stale) | set(result.refused)
    written = [record for record in plan.writes if record.key not in refused]
    top = dict(stored_max)  # plus what the store's guard found held (a writer the versions read missed)
    for (trade_id, _version, _book), held in result.stale.items():
        top[trade_id] = max(top.get(trade_id, 0), held)
    return batch_outcomes(sink, written, letters, top, replays)


class OutcomePublisher:
    """Produce outcome events through the sink's producer (the one its dead letters use) and wait until the
    broker acknowledged all of them."""

    def __init__(self, producer: Sender, topic: str, timeout_s: float = 10.0) -> None:
        self.producer = producer
        self.topic = topic
        self.timeout_s = timeout_s

    def publish(self, outcomes: Sequence[Outcome]) -> None:
        """Send and wait; raise OutcomesUnavailable unless every event was acknowledged."""
        if isinstance(self.producer, TradeProducer):
            return self._publish_many(self.producer, outcomes)
        futures: list[Future[Any]] = []
        for outcome in outcomes:
            try:
                futures.append(self.producer.send(self.topic, outcome.to_bytes(), outcome.record_key()))
            except PublishUnavailable as exc:
                raise OutcomesUnavailable(f"outcomes topic {self.topic!r}: {exc}") from None
        errors = unacknowledged(futures, self.timeout_s)
        if errors:
            raise OutcomesUnavailable(f"outcomes topic {self.topic!r} did not acknowledge: {errors[0]}")

    def _publish_many(self, producer: TradeProducer, outcomes: Sequence[Outcome]) -> None:
        """The same through `send_many`: one callback per record and one wait, no Future per record (the
        per-record Futures were ~20% of a draining consumer's samples, issue 14)."""
        acked = _Acks(len(outcomes))
        records = ((o.trade_id, o.record_key(), o.to_bytes()) for o in outcomes)
        try:
            queued = producer.send_many(self.topic, records, acked.delivered)
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
