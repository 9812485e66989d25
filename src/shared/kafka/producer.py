"""TradeProducer: the one Kafka producer of TradeStore, for trades (API, tools) and dead letters alike.

It partitions by trade_id (shared.kafka.partitioner), serves delivery reports on a background thread so
callers never block, and replaces itself when the broker fences it: after a network stall the idempotent
producer bumps its epoch and the broker answers PRODUCER_FENCED to every later record (seen on Tansu);
only a new producer gets through again. That logic is written once, here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer

from shared.errors import PublishUnavailable
from shared.kafka.config import producer_config
from shared.kafka.partitioner import partition_for, trade_id_of
from shared.settings import Settings

log = logging.getLogger("shared.kafka")

Headers = Sequence[tuple[str, bytes]]
OnDelivery = Callable[[int, KafkaError | None, Any], None]  # (index in the batch, error, message)

# Delivery errors that mean the producer's identity is spent: only a new producer gets through again.
PRODUCER_IDENTITY_ERRORS = frozenset(
    {
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError._FENCED,
    }
)


def unacknowledged(futures: Iterable[Future[Any]], timeout_s: float) -> list[str]:
    """Wait for every send's acknowledgement within one shared deadline; why each that failed did not."""
    deadline = time.monotonic() + timeout_s
    errors: list[str] = []
    for future in futures:
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except (PublishUnavailable, FutureTimeout) as exc:
            errors.append(str(exc) or "no acknowledgement in time")
    return errors


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


class TradeProducer:
    """`send(topic, value, key, headers)` returns a Future of a Delivery; it fails with PublishUnavailable
    when the broker does not acknowledge within KAFKA_PUBLISH_TIMEOUT_S (librdkafka's message.timeout.ms).

    `block_on_metadata=False` (the API): a topic-metadata miss never blocks the caller; the metadata is
    fetched in the background and the call is refused meanwhile. `client_id` names the role (PLAN.md).
    """

    def __init__(
        self, settings: Settings, block_on_metadata: bool = True, client_id: str = "tradedata"
    ) -> None:
        self._settings = settings
        self._block_on_metadata = block_on_metadata
        self.client_id = client_id
        self._fatal: KafkaError | None = None
        self._producer = self._new_producer()
        self._partitions: dict[str, int] = {}
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()
        self._stop = threading.Event()
        self.replacements = 0
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _new_producer(self) -> Producer:
        config = {
            **producer_config(self._settings, self.client_id),
            "logger": logging.getLogger("librdkafka"),
            "error_cb": self._on_error,
        }
        return Producer(config)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err

    def _check_identity(self, err: KafkaError) -> None:
        """A producer the broker fenced stays refused: mark it for replacement."""
        if err.fatal() or err.code() in PRODUCER_IDENTITY_ERRORS:
            self._fatal = err

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)
            if self._fatal is not None:
                self._replace()

    def _replace(self) -> None:
        """Fail the records of a fenced producer (their futures fail) and start a fresh one."""
        log.error("Kafka producer %s failed fatally (%s); replacing it", self.client_id, self._fatal)
        old, self._producer = self._producer, self._new_producer()
        self._fatal = None
        self.replacements += 1
        old.purge()
        old.flush(0)  # serves the purged records' delivery reports: their futures fail

    def warm(self, topic: str) -> int:
        """Fetch and cache the partition count of `topic` now (blocking: call it off the event loop)."""
        try:
            meta = self._producer.list_topics(topic, timeout=self._settings.kafka_publish_timeout_s)
        except KafkaException as exc:
            raise PublishUnavailable(f"broker unreachable: {exc.args[0].str()}") from None
        found = meta.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise PublishUnavailable(f"topic {topic!r} has no partitions available")
        with self._lock:
            self._partitions[topic] = len(found.partitions)
        return len(found.partitions)

    def partition_count(self, topic: str) -> int:
        """Partitions of `topic` from the cache. On a miss: fetch now (blocking), or, when the producer
        must not block (an event loop calls it), refresh in the background and refuse for now."""
        count = self._partitions.get(topic)
        if count is not None:
            return count
        if self._block_on_metadata:
            return self.warm(topic)
        with self._lock:
            start = topic not in self._refreshing
            self._refreshing.add(topic)
        if start:
            threading.Thread(target=self._refresh, args=(topic,), name="kafka-metadata", daemon=True).start()
        raise PublishUnavailable(f"metadata of topic {topic!r} is not available yet (broker unreachable?)")

    def _refresh(self, topic: str) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.warm(topic)
                    return
                except PublishUnavailable:
                    self._stop.wait(1.0)
        finally:
            with self._lock:
                self._refreshing.discard(topic)

    def send(
        self,
        topic: str,
        value: Mapping[str, Any] | bytes | None,
        key: bytes | None,
        headers: Headers | None = None,
    ) -> Future[Delivery]:
        """Queue one record; the Future resolves when the broker acknowledged it (acks=all)."""
        payload = value if value is None or isinstance(value, bytes) else orjson.dumps(value)
        future: Future[Delivery] = Future()
        future.set_running_or_notify_cancel()

        def on_delivery(err: KafkaError | None, msg: Any) -> None:
            if err is not None:
                self._check_identity(err)
                future.set_exception(PublishUnavailable(f"broker did not acknowledge: {err.str()}"))
            else:
                future.set_result(Delivery(msg.topic(), msg.partition(), msg.offset()))

        partition = partition_for(trade_id_of(value, key), self.partition_count(topic))
        extra: dict[str, Any] = {"headers": list(headers)} if headers else {}
        try:
            self._producer.produce(topic, payload, key, partition=partition, on_delivery=on_delivery, **extra)
        except BufferError:
            raise PublishUnavailable("producer queue is full; the broker is slow or unreachable") from None
        except KafkaException as exc:
            raise PublishUnavailable(f"cannot queue record: {exc.args[0].str()}") from None
        return future

    def send_many(
        self,
        topic: str,
        records: Iterable[tuple[str, bytes, bytes]],
        on_delivery: OnDelivery,
        headers: Headers | None = None,
        indexed: bool = True,
    ) -> int:
        """Queue (trade_id, key, value) records in order, without a Future each; `headers` go on every record.

        `records` may be a generator (librdkafka copies each payload). `on_delivery(index, error, message)`
        runs on the delivery thread per queued record; `indexed=False` (a caller that only counts: outcome
        events) gives index -1, one callback for the batch, not one per record. Stops at the first record
        refused, returning how many were queued; raises PublishUnavailable if not even the first could be.
        """
        partitions = self.partition_count(topic)
        produce = self._producer.produce
        extra: dict[str, Any] = {"headers": list(headers)} if headers else {}
        report = partial(self._delivered, on_delivery)
        every = None if indexed else partial(report, -1)
        queued = 0
        for index, (trade_id, key, value) in enumerate(records):
            try:
                partition = partition_for(trade_id, partitions)
                callback = every or partial(report, index)
                produce(topic, value, key, partition=partition, on_delivery=callback, **extra)
            except (BufferError, KafkaException) as exc:
                if index == 0:
                    raise PublishUnavailable(f"producer refused the batch: {exc}") from None
                return index
            queued = index + 1
        return queued

    def _delivered(self, on_delivery: OnDelivery, index: int, err: KafkaError | None, msg: Any) -> None:
        """A record's delivery report (delivery thread): one partial per record, no closure built."""
        if err is not None:
            self._check_identity(err)
        on_delivery(index, err, msg)

    def broker_reachable(self, timeout_s: float = 2.0) -> bool:
        """True when broker metadata can be fetched now and the producer is usable (readiness probe)."""
        if self._fatal is not None:
            return False
        try:
            self._producer.list_topics(timeout=timeout_s)
        except KafkaException:
            return False
        return True

    def in_flight(self) -> int:
        """Records queued or awaiting acknowledgement."""
        return len(self._producer)

    def close(self, timeout_s: float = 10.0) -> int:
        """Flush what is queued, stop the delivery thread; returns records still undelivered."""
        remaining: int = self._producer.flush(timeout_s)
        self._stop.set()
        self._poller.join(timeout=2)
        return remaining
