"""The Kafka adapter: librdkafka configuration, topic creation, and the TradeProducer behind `send`.

TradeProducer picks the partition from the trade_id alone (Kafka's murmur2), so every version of
a trade lands in one partition, in order, and one consumer of a group owns all of them.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from shared.errors import PublishUnavailable
from shared.settings import Settings

log = logging.getLogger(__name__)


def client_config(settings: Settings) -> dict[str, Any]:
    """Connection and security settings common to producers, consumers and admin clients."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
    }
    optional = {
        "sasl.mechanism": settings.kafka_sasl_mechanism,
        "sasl.username": settings.kafka_sasl_username,
        "sasl.password": settings.kafka_sasl_password.get_secret_value()
        if settings.kafka_sasl_password
        else None,
        "ssl.ca.location": settings.kafka_ssl_ca_location,
        "ssl.certificate.location": settings.kafka_ssl_certificate_location,
        "ssl.key.location": settings.kafka_ssl_key_location,
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    return config


def producer_config(settings: Settings) -> dict[str, Any]:
    """Idempotent, acks=all; librdkafka gives up on a message when the API stops waiting for it."""
    timeout_ms = int(settings.kafka_publish_timeout_s * 1000)
    return {
        **client_config(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": settings.kafka_linger_ms,
        "compression.type": settings.kafka_compression,
        "queue.buffering.max.messages": settings.kafka_queue_max_messages,
        "message.timeout.ms": timeout_ms,
        "request.timeout.ms": min(timeout_ms, 30_000),
    }


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (as the Java client's default partitioner uses), as a positive int."""
    m = 0x5BD1E995
    length = len(data)
    words = length // 4
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for k in struct.unpack_from(f"<{words}I", data):  # one C call for every 4-byte block
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        h = ((h * m) & 0xFFFFFFFF) ^ ((k * m) & 0xFFFFFFFF)
    tail = data[words * 4 :]
    if tail:
        if len(tail) == 3:
            h ^= tail[2] << 16
        if len(tail) >= 2:
            h ^= tail[1] << 8
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h & 0x7FFFFFFF


def trade_id_of(value: Mapping[str, Any] | bytes, key: bytes) -> str:
    """The trade_id a record is partitioned by: the value's (a trade_id may itself contain ':'); for a
    value that is not a trade (a test's poison record), the key up to its first ':'."""
    if not isinstance(value, bytes):
        return str(value["trade_id"])
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("trade_id"), str):
        return str(parsed["trade_id"])
    return key.decode(errors="replace").split(":", 1)[0]


def partition_for(trade_id: str, partitions: int) -> int:
    """The partition of every version of `trade_id`."""
    return murmur2(trade_id.encode()) % partitions


def ensure_topics(settings: Settings, topics: Iterable[str] | None = None, timeout_s: float = 10.0) -> None:
    """Create the trades and dead-letter topics with TRADES_TOPIC_PARTITIONS when missing."""
    names = list(topics) if topics is not None else [settings.trades_topic, settings.trades_dlq_topic]
    config: dict[str, Any] = {**client_config(settings), "logger": logging.getLogger("librdkafka")}
    admin = AdminClient(config)
    existing = admin.list_topics(timeout=timeout_s).topics
    missing = [NewTopic(n, settings.trades_topic_partitions, 1) for n in names if n not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, request_timeout=timeout_s).items():
        try:
            future.result(timeout_s)
            log.info("created topic %s with %d partitions", name, settings.trades_topic_partitions)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


# Delivery errors that mean the producer's identity is spent (seen on Tansu after a stall: the epoch
# bump is answered PRODUCER_FENCED for every later record); only a new producer gets through again.
PRODUCER_IDENTITY_ERRORS = frozenset(
    {
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError._FENCED,
    }
)


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


class TradeProducer:
    """`send(topic, value=..., key=...)` over confluent_kafka.Producer; returns a Future of a Delivery.

    A background thread serves delivery reports, so callers never block: the API awaits the
    Future with asyncio.wrap_future. The Future fails with PublishUnavailable if the broker does
    not acknowledge within KAFKA_PUBLISH_TIMEOUT_S (librdkafka's message.timeout.ms).

    A fatal producer error (seen: after a network stall the idempotent producer bumps its epoch and
    the broker answers PRODUCER_FENCED) would refuse every later record; the delivery thread then
    fails what is in flight and replaces the producer, so the API recovers by itself. Topic metadata
    is fetched off the request path (`warm`, and a background refresh on a miss).
    """

    def __init__(self, settings: Settings, block_on_metadata: bool = True) -> None:
        """`block_on_metadata=False` (the API): a metadata miss never blocks the caller."""
        self._settings = settings
        self._block_on_metadata = block_on_metadata
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
            **producer_config(self._settings),
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
        """Fail the records of a fenced producer (their futures answer 503) and start a fresh one."""
        log.error("Kafka producer failed fatally (%s); replacing it", self._fatal)
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
        value: Mapping[str, Any] | bytes,
        key: bytes,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Future[Delivery]:
        """Queue one record; the Future resolves when the broker acknowledged it (acks=all)."""
        payload = value if isinstance(value, bytes) else orjson.dumps(value)  # the bytes batch ingest sends
        trade_id = trade_id_of(value, key)
        future: Future[Delivery] = Future()
        future.set_running_or_notify_cancel()

        def on_delivery(err: KafkaError | None, msg: Any) -> None:
            if err is not None:
                self._check_identity(err)
                future.set_exception(PublishUnavailable(f"broker did not acknowledge: {err.str()}"))
            else:
                future.set_result(Delivery(msg.topic(), msg.partition(), msg.offset()))

        partition = partition_for(trade_id, self.partition_count(topic))
        try:
            self._producer.produce(
                topic,
                payload,
                key,
                partition=partition,
                on_delivery=on_delivery,
                headers=[(k, v) for k, v in headers] if headers else None,
            )
        except BufferError:
            raise PublishUnavailable("producer queue is full; the broker is slow or unreachable") from None
        except KafkaException as exc:
            raise PublishUnavailable(f"cannot queue record: {exc.args[0].str()}") from None
        return future

    def send_many(
        self,
        topic: str,
        records: Iterable[tuple[str, bytes, bytes]],
        on_delivery: Callable[[int, KafkaError | None, Any], None],
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> int:
        """Queue (trade_id, key, value) records in order, without a Future each (batch ingest).

        `records` may be a generator: librdkafka copies each payload, so the caller's bytes can go as
        soon as they are queued; `headers` go on every record (provenance). `on_delivery(index, error,
        message)` runs on the delivery thread once per queued record. Stops at the first record the
        producer refuses and returns how many were queued; raises PublishUnavailable when not even the
        first could be.
        """
        partitions = self.partition_count(topic)
        produce = self._producer.produce
        # confluent_kafka wants a list of (str, str | bytes | None)
        record_headers: list[tuple[str, str | bytes | None]] | None = list(headers) if headers else None
        queued = 0
        for index, (trade_id, key, value) in enumerate(records):

            def delivered(err: KafkaError | None, msg: Any, index: int = index) -> None:
                if err is not None:
                    self._check_identity(err)
                on_delivery(index, err, msg)

            try:
                produce(
                    topic,
                    value,
                    key,
                    partition=partition_for(trade_id, partitions),
                    on_delivery=delivered,
                    headers=record_headers,
                )
            except (BufferError, KafkaException) as exc:
                if index == 0:
                    raise PublishUnavailable(f"producer refused the batch: {exc}") from None
                return index
            queued = index + 1
        return queued

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
