"""The one ingest service: `accept` turns one submitted item into its Kafka record (or its field errors),
`publish` queues records and awaits every broker acknowledgement. POST /trades is a batch of one.

`publish_trade` is the one-record form (the seed's producer test, tools): same key, value and headers as
`accept` + `publish` put on the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from typing import Literal, NamedTuple, Protocol

import orjson
from pydantic import ValidationError

from shared.errors import PublishUnavailable, TradeRuleViolation
from shared.kafka import Delivery
from shared.rules import MaturedPolicy, apply_maturity, validate_trade
from shared.schema import TradePayload
from tradedata.fastpath import plain_value
from tradedata.problems import field_errors_from_validation

TRADES_TOPIC = "trades"
PRINCIPAL_HEADER = "tradestore.principal"  # key id or token subject that submitted the record

Headers = Sequence[tuple[str, bytes]]
TradeLike = Mapping[str, object] | TradePayload


class Record(NamedTuple):
    """An accepted trade as its Kafka record: trade_id (partitioning), key, JSON value."""

    trade_id: str
    key: bytes
    value: bytes


class Acked(Protocol):
    """What a delivery report tells about an acknowledged record (confluent_kafka.Message)."""

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...


class DeliveryError(Protocol):
    """Why a record was not acknowledged (confluent_kafka.KafkaError)."""

    def str(self) -> str: ...


OnDelivery = Callable[[int, DeliveryError | None, Acked | None], None]


class Sender(Protocol):
    """What publish_trade needs: TradeProducer.send, or a mock in unit tests."""

    def send(
        self, topic: str, value: Mapping[str, object] | bytes, key: bytes, headers: Headers | None = None
    ) -> Future[Delivery]: ...


class Publisher(Sender, Protocol):
    """The producer the API publishes through (shared.kafka.TradeProducer, or a fake in tests)."""

    def send_many(
        self,
        topic: str,
        records: Iterable[tuple[str, bytes, bytes]],
        on_delivery: OnDelivery,
        headers: Headers | None = None,
    ) -> int: ...

    def broker_reachable(self, timeout_s: float = 2.0) -> bool: ...


def kafka_key(trade_id: str, version: object, book_id: str) -> bytes:
    """`trade_id:version:book_id`, UTF-8: the one place TradeData builds a record key."""
    return f"{trade_id}:{version}:{book_id}".encode()


def trade_key(trade: TradeLike) -> bytes:
    if isinstance(trade, TradePayload):
        return kafka_key(trade.trade_id, trade.version, trade.book_id)
    return kafka_key(str(trade["trade_id"]), trade["version"], str(trade["book_id"]))


def record_headers(principal: str | None) -> Headers | None:
    """The provenance header of a record submitted by `principal` (none when auth is off)."""
    return None if principal is None else [(PRINCIPAL_HEADER, principal.encode())]


def publish_trade(
    producer: Sender, trade: TradeLike, topic: str = TRADES_TOPIC, principal: str | None = None
) -> Future[Delivery]:
    """Send one trade; returns the producer's Future of the broker's acknowledgement."""
    value = trade.to_message() if isinstance(trade, TradePayload) else trade
    headers = record_headers(principal)
    if headers is None:
        return producer.send(topic, value=value, key=trade_key(trade))
    return producer.send(topic, value=value, key=trade_key(trade), headers=headers)


def accept_trade(trade: TradePayload, today: date, policy: MaturedPolicy) -> TradePayload:
    """The trade as it will be published: expired follows the maturity date (or the trade is refused)."""
    return apply_maturity(trade, today, policy)


def accept(data: object, today: date, policy: MaturedPolicy) -> Record | list[dict[str, object]]:
    """The record of an acceptable trade (TradePayload + the trade rules), else every field error.

    The common plainly-valid case takes tradedata.fastpath (proven equal to the model by a property test).
    """
    if isinstance(data, dict) and (value := plain_value(data, today, policy)) is not None:
        trade_id = data["trade_id"]
        return Record(trade_id, kafka_key(trade_id, data["version"], data["book_id"]), value)
    try:
        trade = validate_trade(TradePayload.model_validate(data), today, policy)
    except ValidationError as exc:
        return [e.as_dict() for e in field_errors_from_validation(exc)]
    except TradeRuleViolation as exc:
        return [e.as_dict() for e in exc.errors]
    return Record(trade.trade_id, trade_key(trade), orjson.dumps(trade.to_message()))


@dataclass(frozen=True)
class Outcome:
    """What happened to one queued record: accepted at partition/offset, or failed (retryable)."""

    status: Literal["accepted", "failed"]
    partition: int = -1
    offset: int = -1
    reason: str = ""


class _AckLatch:
    """Counts unacknowledged records; wakes the event loop once, when the last one is acknowledged."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending = 1  # a guard held until every record is queued
        self.done = asyncio.Event()

    def add(self) -> None:
        with self._lock:
            self._pending += 1

    def release(self) -> None:
        with self._lock:
            self._pending -= 1
            last = self._pending == 0
        if last:
            self._loop.call_soon_threadsafe(self.done.set)


@dataclass(frozen=True)
class PublishOptions:
    topic: str
    ack_timeout_s: float  # how long to await the broker (the producer's own timeout + 1 s)
    headers: Headers | None = None


async def publish(
    producer: Publisher, records: Iterable[tuple[int, Record]], options: PublishOptions
) -> dict[int, Outcome]:
    """Queue every record as it comes, then await (bounded) every acknowledgement; outcome per index.

    Records stream into the producer (which copies each payload) and acknowledgements land in a dict
    from the delivery thread: nothing is held per record but its ack. Never blocks the event loop.
    """
    latch = _AckLatch(asyncio.get_running_loop())
    indexes: list[int] = []  # position of a record handed to the producer -> its item index
    acks: dict[int, tuple[DeliveryError | None, Acked | None]] = {}

    def delivered(position: int, err: DeliveryError | None, msg: Acked | None) -> None:
        acks[position] = (err, msg)
        latch.release()

    def counted() -> Iterator[Record]:
        for index, record in records:
            indexes.append(index)
            latch.add()
            yield record

    stream = counted()
    try:
        queued = producer.send_many(options.topic, stream, delivered, headers=options.headers)
        stopped = "producer queue is full; the broker is slow or unreachable"
    except PublishUnavailable as exc:
        queued, stopped = 0, str(exc)
    for _ in stream:  # the rest is still checked (rejected items keep their errors), not sent
        pass
    for _ in range(len(indexes) - queued):  # never queued: nothing to wait for
        latch.release()
    latch.release()  # the guard
    with contextlib.suppress(TimeoutError):  # what is still pending is reported as failed below
        await asyncio.wait_for(latch.done.wait(), options.ack_timeout_s)
    outcomes: dict[int, Outcome] = {}
    for position, index in enumerate(indexes):
        if position >= queued:
            outcomes[index] = Outcome("failed", reason=stopped)
        else:
            outcomes[index] = _outcome(acks.get(position), options.ack_timeout_s)
    return outcomes


def _outcome(ack: tuple[DeliveryError | None, Acked | None] | None, waited_s: float) -> Outcome:
    if ack is None:
        return Outcome("failed", reason=f"broker did not acknowledge within {waited_s:g}s")
    err, msg = ack
    if err is not None or msg is None:
        detail = err.str() if err is not None else "no delivery report"
        return Outcome("failed", reason=f"broker did not acknowledge: {detail}")
    return Outcome("accepted", msg.partition() or 0, msg.offset() or 0)
