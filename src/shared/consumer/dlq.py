"""The dead-letter publisher: refused records go to TRADES_DLQ_TOPIC with headers saying why and from where.

`publish` returns only once the broker acknowledged every record (flush), so the runtime can commit
the offsets after it; an unacknowledged DLQ write raises DeadLetterUnavailable and nothing is committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError

from shared.consumer.batch import DeadLetter
from shared.errors import StoreUnavailable
from shared.kafka import PRODUCER_IDENTITY_ERRORS


class DeadLetterUnavailable(StoreUnavailable):
    """The broker did not acknowledge a dead letter: retried like a store outage."""


class ProducerLike(Protocol):
    """The part of confluent_kafka.Producer the publisher uses."""

    def produce(self, topic: str, value: Any = ..., key: Any = ..., **kwargs: Any) -> None: ...

    def flush(self, timeout: float = ...) -> int: ...

    def poll(self, timeout: float = ...) -> int: ...


def headers_for(letter: DeadLetter, sink: str) -> list[tuple[str, bytes]]:
    """Headers naming the reason, the sink and where the original record was."""
    r = letter.record
    return [
        ("dlq.reason", letter.reason.value.encode()),
        ("dlq.detail", letter.detail[:1000].encode()),
        ("dlq.sink", sink.encode()),
        ("dlq.topic", r.topic.encode()),
        ("dlq.partition", str(r.partition).encode()),
        ("dlq.offset", str(r.offset).encode()),
    ]


class DeadLetterPublisher:
    """Produce dead letters (original key and value untouched) and wait for the acknowledgements."""

    def __init__(
        self,
        producer: ProducerLike,
        topic: str,
        sink: str,
        timeout_s: float = 10.0,
        new_producer: Callable[[], ProducerLike] | None = None,
    ) -> None:
        self.producer = producer
        self.new_producer = new_producer
        self.topic = topic
        self.sink = sink
        self.timeout_s = timeout_s

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        """Send every letter and flush; raise DeadLetterUnavailable unless all were acknowledged."""
        if not letters:
            return
        errors: list[str] = []
        spent = False

        def on_delivery(err: Any, _msg: Any) -> None:
            nonlocal spent
            if err is not None:
                errors.append(str(err))
                identity = isinstance(err, KafkaError) and (
                    err.fatal() or err.code() in PRODUCER_IDENTITY_ERRORS
                )
                spent = spent or identity

        for letter in letters:
            try:
                self.producer.produce(
                    self.topic,
                    value=letter.record.value,
                    key=letter.record.key,
                    headers=headers_for(letter, self.sink),
                    on_delivery=on_delivery,
                )
            except BufferError:
                self.producer.poll(1.0)
                raise DeadLetterUnavailable("DLQ producer queue full") from None
        remaining = self.producer.flush(self.timeout_s)
        if spent and self.new_producer is not None:
            # A fenced idempotent producer refuses every later record (seen after a network stall):
            # the retry of this batch goes through a new one.
            self.producer = self.new_producer()
        if remaining or errors:
            reason = errors[0] if errors else f"{remaining} unacknowledged"
            raise DeadLetterUnavailable(f"dead-letter topic {self.topic!r} did not acknowledge: {reason}")
