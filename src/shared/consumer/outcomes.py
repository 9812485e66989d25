"""The sink's outcome events: one per processed record of `trades`, published to TRADES_OUTCOMES_TOPIC after
the write and the dead letters and before the offsets are stored, acknowledged like dead letters.

A record that was stored (or was already stored: a redelivery) is `stored`; a dead-lettered one is `rejected`
with the dead-letter reason. The API turns them into answers (`Prefer: wait`, GET .../status).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from shared.consumer.batch import DeadLetter, Reason
from shared.errors import StoreUnavailable
from shared.outcomes import Outcome, State
from shared.schema import TradePayload


class OutcomesUnavailable(StoreUnavailable):
    """The broker did not acknowledge the outcome events: the batch is retried like a store outage."""


class ProducerLike(Protocol):
    """The part of confluent_kafka.Producer the publisher uses."""

    def produce(self, topic: str, value: Any = ..., key: Any = ..., **kwargs: Any) -> None: ...

    def flush(self, timeout: float = ...) -> int: ...


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


class OutcomePublisher:
    """Produce outcome events and wait until the broker acknowledged all of them."""

    def __init__(self, producer: ProducerLike, topic: str, timeout_s: float = 10.0) -> None:
        self.producer = producer
        self.topic = topic
        self.timeout_s = timeout_s

    def publish(self, outcomes: Sequence[Outcome]) -> None:
        """Send and flush; raise OutcomesUnavailable unless every event was acknowledged."""
        if not outcomes:
            return
        errors: list[str] = []

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        try:
            for outcome in outcomes:
                self.producer.produce(
                    self.topic, value=outcome.to_bytes(), key=outcome.record_key(), on_delivery=on_delivery
                )
        except BufferError:
            self.producer.flush(1.0)
            raise OutcomesUnavailable("outcome producer queue full") from None
        remaining = self.producer.flush(self.timeout_s)
        if remaining or errors:
            reason = errors[0] if errors else f"{remaining} unacknowledged"
            raise OutcomesUnavailable(f"outcomes topic {self.topic!r} did not acknowledge: {reason}")
