"""The dead-letter publisher: refused records go to TRADES_DLQ_TOPIC with headers saying why and from where.

Records go through the shared TradeProducer (shared.kafka), so a fenced producer is replaced by the same
logic as the API's. `publish` returns only once the broker acknowledged every letter, so the pipeline
can store the offsets after it; otherwise it raises DeadLetterUnavailable and nothing is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

from shared.consumer.batch import DeadLetter
from shared.errors import PublishUnavailable, StoreUnavailable
from shared.kafka import Delivery, Headers
from shared.kafka.headers import (
    DLQ_DETAIL,
    DLQ_HEADERS,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_REASON,
    DLQ_SINK,
    DLQ_TOPIC,
)
from shared.kafka.producer import unacknowledged


class DeadLetterUnavailable(StoreUnavailable):
    """The broker did not acknowledge a dead letter: retried like a store outage."""


class Sender(Protocol):
    """What the publisher needs of shared.kafka.TradeProducer."""

    def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers | None = None
    ) -> Future[Delivery]: ...


def headers_for(letter: DeadLetter, sink: str) -> list[tuple[str, bytes]]:
    """The original record's headers (provenance, redrive marks) and the dead-letter headers naming the
    reason, the sink and where the original record was."""
    r = letter.record
    return [
        *((k, v) for k, v in r.headers if k not in DLQ_HEADERS),
        (DLQ_REASON, letter.reason.value.encode()),
        (DLQ_DETAIL, letter.detail[:1000].encode()),
        (DLQ_SINK, sink.encode()),
        (DLQ_TOPIC, r.topic.encode()),
        (DLQ_PARTITION, str(r.partition).encode()),
        (DLQ_OFFSET, str(r.offset).encode()),
    ]


class DeadLetterPublisher:
    """Produce dead letters (original key and value untouched) and wait for the acknowledgements."""

    def __init__(self, producer: Sender, topic: str, sink: str, timeout_s: float = 10.0) -> None:
        self.producer = producer
        self.topic = topic
        self.sink = sink
        self.timeout_s = timeout_s

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        """Send every letter and wait; raise DeadLetterUnavailable unless all were acknowledged."""
        futures: list[Future[Delivery]] = []
        for letter in letters:
            record = letter.record
            try:
                futures.append(
                    self.producer.send(self.topic, record.value, record.key, headers_for(letter, self.sink))
                )
            except PublishUnavailable as exc:
                raise DeadLetterUnavailable(f"dead-letter topic {self.topic!r}: {exc}") from None
        errors = unacknowledged(futures, self.timeout_s)
        if errors:
            raise DeadLetterUnavailable(f"dead-letter topic {self.topic!r} did not acknowledge: {errors[0]}")
