"""Publishing accepted records: queue them all, then await every broker acknowledgement (bounded).

One path for a batch and for a single POST (a batch of one); used through tradedata.service.Ingest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Literal, NamedTuple, Protocol

from shared.errors import PublishUnavailable
from shared.kafka import Delivery

Headers = Sequence[tuple[str, bytes]]


class Record(NamedTuple):
    """An accepted trade as its Kafka record: trade_id (partitioning), key, JSON value."""

    trade_id: str
    key: bytes
    value: bytes


# A NamedTuple built by tuple.__new__ from a tuple: no Python frame (half the cost of Record(...)).
new_record: Callable[[tuple[str, bytes, bytes]], Record] = partial(tuple.__new__, Record)


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

    def broker_reachable(self, timeout_s: float = ...) -> bool: ...  # the default is the producer's own


class Outcome(NamedTuple):
    """What happened to one queued record: accepted at partition/offset, or failed (retryable)."""

    status: Literal["accepted", "failed"]
    partition: int = -1
    offset: int = -1
    reason: str = ""


_new_outcome: Callable[[tuple[str, int, int, str]], Outcome] = partial(tuple.__new__, Outcome)


class _Acks:
    """Delivery reports by position; wakes the event loop once, when the last expected one is in.

    No lock and no counter per record: only the delivery thread writes reports, and the event loop
    learns how many to expect once every record is queued (`wait`); whichever of the two sees the last
    report in place wakes the loop. A single POST awaits one of these.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.reports: dict[int, tuple[DeliveryError | None, Acked | None]] = {}
        self._expected = -1  # unknown until every record is queued
        self.done: asyncio.Future[None] = loop.create_future()

    def delivered(self, position: int, err: DeliveryError | None, msg: Acked | None) -> None:
        self.reports[position] = (err, msg)
        if len(self.reports) == self._expected:
            self._loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    async def wait(self, expected: int, timeout_s: float) -> None:
        """Until `expected` reports are in or `timeout_s`, whichever comes first (never raises)."""
        self._expected = expected
        if len(self.reports) >= expected:
            return
        timer = self._loop.call_later(timeout_s, self._finish)
        try:
            await self.done
        finally:
            timer.cancel()


@dataclass(frozen=True)
class PublishOptions:
    topic: str
    ack_timeout_s: float  # how long to await the broker (the producer's own timeout + 1 s)
    headers: Headers | None = None


class Published(NamedTuple):
    """What became of the records handed to `publish_all`, in the order they were handed over."""

    indexes: list[int]  # position -> the item index the caller gave the record
    queued: int  # records from this position on were never sent, because of `stopped`
    stopped: str
    reports: dict[int, tuple[DeliveryError | None, Acked | None]]  # position -> its delivery report
    waited_s: float

    def outcome(self, position: int) -> Outcome:
        """The record at `position`: accepted at its partition/offset, or failed with the reason."""
        if position >= self.queued:
            return Outcome("failed", reason=self.stopped)
        return _outcome(self.reports.get(position), self.waited_s)

    def outcomes(self) -> dict[int, Outcome]:
        """An outcome per item index."""
        return {index: self.outcome(position) for position, index in enumerate(self.indexes)}


async def publish_all(
    producer: Publisher, records: Iterable[tuple[int, Record]], options: PublishOptions
) -> Published:
    """Queue every record as it comes, then await (bounded) every acknowledgement.

    Records stream into the producer (which copies each payload) and acknowledgements land in a dict
    from the delivery thread: nothing is held per record but its ack. Never blocks the event loop.
    """
    acks = _Acks(asyncio.get_running_loop())
    indexes: list[int] = []  # position of a record handed to the producer -> its item index

    def counted() -> Iterator[Record]:
        for index, record in records:
            indexes.append(index)
            yield record

    stream = counted()
    try:
        queued = producer.send_many(options.topic, stream, acks.delivered, headers=options.headers)
        stopped = "producer queue is full; the broker is slow or unreachable"
    except PublishUnavailable as exc:
        queued, stopped = 0, str(exc)
    for _ in stream:  # the rest is still checked (rejected items keep their errors), not sent
        pass
    await acks.wait(queued, options.ack_timeout_s)  # what is still pending is reported as failed
    return Published(indexes, queued, stopped, acks.reports, options.ack_timeout_s)


async def publish(
    producer: Publisher, records: Iterable[tuple[int, Record]], options: PublishOptions
) -> dict[int, Outcome]:
    """`publish_all`, as an outcome per item index."""
    return (await publish_all(producer, records, options)).outcomes()


def _outcome(ack: tuple[DeliveryError | None, Acked | None] | None, waited_s: float) -> Outcome:
    if ack is None:
        return Outcome("failed", reason=f"broker did not acknowledge within {waited_s:g}s")
    err, msg = ack
    if err is not None or msg is None:
        detail = err.str() if err is not None else "no delivery report"
        return Outcome("failed", reason=f"broker did not acknowledge: {detail}")
    return _new_outcome(("accepted", msg.partition() or 0, msg.offset() or 0, ""))
