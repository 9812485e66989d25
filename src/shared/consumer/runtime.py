"""The consumer runtime both sinks share: poll a batch, decide, write, dead-letter, then store offsets.

At-least-once: offsets are stored (enable.auto.offset.store=false) only after the sink wrote the batch
and the DLQ acknowledged its letters; librdkafka commits stored offsets in the background, on
rebalance and on close. Writes are idempotent upserts, so a redelivered batch changes nothing.
While the store is down the same batch is retried without limit; the partitions are paused and the
consumer keeps polling, so heartbeats and rebalances are served; a revocation abandons the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from shared.consumer.batch import (
    DeadLetter,
    Inbound,
    decode_batch,
    plan_writes,
    split_replays,
)
from shared.consumer.dlq import DeadLetterPublisher
from shared.consumer.metrics import ProbeServer, RuntimeMetrics
from shared.consumer.positions import lag, pause, rewind, store_offsets
from shared.consumer.retry import Abandoned, Backoff, retry_until_done
from shared.errors import StoreUnavailable
from shared.kafka import client_config, producer_config
from shared.settings import Settings
from shared.sink import TradeSink

log = logging.getLogger("shared.consumer")
T = TypeVar("T")
PING_EVERY_S = 2.0  # how often an idle runtime checks its store, for /ready


def consumer_config(settings: Settings, sink_name: str) -> dict[str, Any]:
    """Group consumer settings: manual offset store, fast group join (Tansu), optional static membership."""
    config: dict[str, Any] = {
        **client_config(settings),
        "group.id": settings.consumer_group or f"tradestore-{sink_name}",
        "enable.auto.offset.store": False,
        "enable.auto.commit": True,  # commits only what we stored, i.e. what is written
        "auto.commit.interval.ms": 1000,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": settings.consumer_session_timeout_ms,
        "heartbeat.interval.ms": settings.consumer_heartbeat_interval_ms,
    }
    if settings.consumer_instance_id:
        config["group.instance.id"] = settings.consumer_instance_id
    return config


def to_inbound(msg: Message) -> Inbound:
    """A polled (error-free) message as plain values."""
    return Inbound(
        str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0), msg.key(), msg.value()
    )


class ConsumerRuntime:
    """Run one sink against the trades topic until `stop()`; `run()` returns the exit code."""

    def __init__(
        self,
        settings: Settings,
        sink: TradeSink,
        *,
        consumer: Any = None,
        dlq_producer: Any = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.metrics = RuntimeMetrics(sink.name)
        self._consumer = consumer
        self._dlq_producer = dlq_producer
        self.today, self.now, self.clock = today, now, clock
        self.backoff = backoff or Backoff(settings.consumer_retry_initial_s, settings.consumer_retry_max_s)
        self._stop = threading.Event()
        self._revoked = False
        self._assigned: set[tuple[str, int]] = set()
        self._polling = False
        self._store_ok = False
        self._last_ping = 0.0
        self._lag: dict[tuple[str, int], int] = {}
        self._probe: ProbeServer | None = None
        self.dlq: DeadLetterPublisher | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler or another thread)."""
        self._stop.set()

    def ready(self) -> bool:
        """Ready when assigned (or polling) and the store answered last time we asked."""
        return self._store_ok and (bool(self._assigned) or self._polling) and not self._stop.is_set()

    def start_probe(self, host: str = "0.0.0.0", port: int | None = None) -> int:  # noqa: S104 - a probe port
        """Serve /health, /ready and /metrics; returns the bound port (0 picks a free one)."""
        self._probe = ProbeServer(
            host,
            self.settings.metrics_port if port is None else port,
            self.metrics,
            self.ready,
            assigned=lambda: bool(self._assigned),
        )
        self._probe.start()
        return self._probe.port

    def run(self) -> int:
        """Set up the sink, subscribe and process batches until stopped; always closes the consumer."""
        consumer = self._consumer or Consumer(consumer_config(self.settings, self.sink.name))
        self._consumer = consumer

        def new_producer() -> Any:
            return Producer(producer_config(self.settings))

        producer: Any = self._dlq_producer or new_producer()
        self.dlq = DeadLetterPublisher(
            producer, self.settings.trades_dlq_topic, self.sink.name, new_producer=new_producer
        )
        try:
            self._retry(self.sink.setup, lambda: self._stop.is_set(), pause=False)
            self._mark_store(True)
            consumer.subscribe(
                [self.settings.trades_topic], on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            log.info("%s consumer subscribed to %s", self.sink.name, self.settings.trades_topic)
            while not self._stop.is_set():
                self.poll_once()
        except Abandoned:
            log.info("%s consumer stopped before its store became reachable", self.sink.name)
        finally:
            consumer.close()
            producer.flush(5.0)
            self.sink.close()
            if self._probe is not None:
                self._probe.stop()
            log.info("%s consumer closed", self.sink.name)
        return 0

    # --- one batch -------------------------------------------------------------------------------
    def poll_once(self) -> None:
        """Poll up to CONSUMER_BATCH_SIZE records (or CONSUMER_BATCH_TIMEOUT_MS) and process them."""
        s = self.settings
        msgs = self._consumer.consume(
            num_messages=s.consumer_batch_size, timeout=s.consumer_batch_timeout_ms / 1000
        )
        self._polling = True
        records = [to_inbound(m) for m in msgs if self._usable(m)]
        if not records:
            self._idle_ping()
            return
        try:
            self.process(records)
        except Abandoned as exc:
            self.metrics.abandoned.inc()
            log.warning("%s batch of %d abandoned, nothing committed: %s", self.sink.name, len(records), exc)
            self._rewind(records)

    def _usable(self, msg: Message) -> bool:
        err = msg.error()
        if err is None:
            return True
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("%s consumer error: %s", self.sink.name, err.str())
        return False

    def process(self, records: Sequence[Inbound]) -> None:
        """Decide, write (retrying while the store is down), dead-letter, then store offsets."""
        started = self.clock()
        self._revoked = False
        self.metrics.consumed.inc(len(records))
        decoded = decode_batch(records, self.today())
        abandon = lambda: self._stop.is_set() or self._revoked  # noqa: E731
        ids = {trade.trade_id for _, trade in decoded.trades}
        stored = self._retry(lambda: self.sink.max_versions(ids), abandon) if ids else {}
        plan = plan_writes(decoded.trades, stored, self.now())
        if plan.writes:
            self._retry(lambda: self.sink.upsert(plan.writes), abandon)
        rejected: list[DeadLetter] = plan.rejected
        replays: list[DeadLetter] = []
        if rejected:
            keys = {letter.trade.key for letter in rejected if letter.trade is not None}
            origins = self._retry(lambda: self.sink.stored_origins(keys), abandon)
            rejected, replays = split_replays(rejected, origins)
        self._mark_store(True)
        letters = decoded.dead + rejected
        if letters:
            dlq = self.dlq
            assert dlq is not None
            self._retry(lambda: dlq.publish(letters), abandon)
        self._commit(records)
        self._count(plan.writes, letters)
        if replays:
            self.metrics.replayed.inc(len(replays))
            log.info(
                "%s: %d redelivered record(s) already stored, acknowledged", self.sink.name, len(replays)
            )
        self.metrics.batch_seconds.observe(self.clock() - started)

    def _count(self, writes: Sequence[object], letters: Sequence[DeadLetter]) -> None:
        self.metrics.persisted.inc(len(writes))
        for letter in letters:
            self.metrics.rejected(letter.reason.value)
            self.metrics.dead_lettered(letter.reason.value)
            log.warning(
                "%s dead-lettered %s[%d]@%d: %s (%s)",
                self.sink.name,
                letter.record.topic,
                letter.record.partition,
                letter.record.offset,
                letter.reason.value,
                letter.detail,
            )

    def _commit(self, records: Sequence[Inbound]) -> None:
        positions = store_offsets(self._consumer, records, self.sink.name)
        self.metrics.lag.set(lag(self._consumer, positions, self._lag))

    # --- store outages ---------------------------------------------------------------------------
    def _retry(self, action: Callable[[], T], abandon: Callable[[], bool], pause: bool = True) -> T:
        paused = False

        def on_failure(attempt: int, exc: StoreUnavailable, delay: float) -> None:
            nonlocal paused
            self._mark_store(False)
            self.metrics.retries.inc()
            log.warning(
                "%s store unavailable (attempt %d), retrying in %.2fs: %s",
                self.sink.name,
                attempt,
                delay,
                exc,
            )
            if pause and not paused:
                self._pause(True)
                paused = True

        try:
            return retry_until_done(action, self.backoff, self._wait, abandon, on_failure)
        finally:
            if paused:
                self._pause(False)

    def _wait(self, delay_s: float) -> None:
        """Wait `delay_s` while polling, so heartbeats, rebalances and a stop request are served."""
        deadline = self.clock() + delay_s
        while not self._stop.is_set() and not self._revoked:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return
            if self._consumer is None or not self._polling:
                self._stop.wait(min(remaining, 0.2))
                continue
            msg = self._consumer.poll(min(remaining, 0.2))
            if msg is not None and msg.error() is None:  # a paused partition delivered: read it again later
                self._consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))

    def _pause(self, on: bool) -> None:
        pause(self._consumer, on)

    def _rewind(self, records: Sequence[Inbound]) -> None:
        if not self._stop.is_set():
            rewind(self._consumer, records, self._assigned)

    def _mark_store(self, ok: bool) -> None:
        if ok != self._store_ok:
            log.info("%s store %s", self.sink.name, "reachable" if ok else "unreachable")
        self._store_ok = ok
        self.metrics.store_up.set(1 if ok else 0)
        self._last_ping = self.clock()

    def _idle_ping(self) -> None:
        if self.clock() - self._last_ping < PING_EVERY_S:
            return
        try:
            self.sink.ping()
            self._mark_store(True)
        except StoreUnavailable as exc:
            if self._store_ok:
                log.warning("%s store unavailable while idle: %s", self.sink.name, exc)
            self._mark_store(False)

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._assigned = {(tp.topic, tp.partition) for tp in partitions}
        log.info("%s assigned %s", self.sink.name, sorted(p for _, p in self._assigned))

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._revoked = True
        self._assigned -= {(tp.topic, tp.partition) for tp in partitions}
        log.info("%s revoked %d partitions", self.sink.name, len(partitions))
