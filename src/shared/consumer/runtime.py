"""The consumer runtime both sinks share: the loop, its lifecycle, rebalances and readiness.

At-least-once: offsets are stored (enable.auto.offset.store=false) only after the pipeline wrote the
batch and the DLQ acknowledged its letters (shared.consumer.pipeline); librdkafka commits stored
offsets in the background, on rebalance and on close. While the store is down the same batch is
retried without limit; the partitions are paused and the consumer keeps polling, so heartbeats and
rebalances are served; a revocation abandons the batch (nothing committed, the batch is re-read).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from shared.consumer.assignment import Assignment
from shared.consumer.batch import Inbound
from shared.consumer.dlq import DeadLetterPublisher, Sender
from shared.consumer.metrics import ProbeServer, RuntimeMetrics
from shared.consumer.outcomes import OutcomePublisher
from shared.consumer.pipeline import BatchPipeline
from shared.consumer.positions import pause as pause_partitions
from shared.consumer.positions import resume as resume_partitions
from shared.consumer.positions import rewind, store_offsets, to_inbound
from shared.consumer.retry import Abandoned, Backoff, retry_until_done
from shared.consumer.stall import StallWatch
from shared.errors import StoreUnavailable
from shared.kafka import TradeProducer, consumer_config, role_client_id
from shared.ports import TradeWriter
from shared.settings import Settings

log = logging.getLogger("shared.consumer")
T = TypeVar("T")
PING_EVERY_S = 2.0  # how often an idle runtime checks its store, for /ready
ROLES = {"mongo": "kafkaconsumer", "sql": "kafkaconsumermssql"}  # Kafka client.id of each sink's clients


class ConsumerRuntime:
    """Run one store's writer against the trades topic until `stop()`; `run()` returns the exit code."""

    def __init__(
        self,
        settings: Settings,
        writer: TradeWriter,
        *,
        consumer: Any = None,
        dlq_producer: Sender | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.client_id = role_client_id(ROLES.get(writer.name, f"consumer-{writer.name}"), settings)
        self.metrics = RuntimeMetrics(writer.name)
        self._consumer = consumer
        self._dlq_producer = dlq_producer
        self.clock = clock
        self.today, self.now = today, now
        self.backoff = backoff or Backoff(settings.consumer_retry_initial_s, settings.consumer_retry_max_s)
        self._stop = threading.Event()
        self._revoked = False
        cooperative = settings.consumer_assignment_strategy == "cooperative-sticky"
        self.assignment = Assignment(writer.name, self.metrics.registry, clock, cooperative)
        self.stall = StallWatch(writer.name, self.metrics.registry, clock, settings.consumer_stall_s)
        self._polling = False
        self._store_ok = False
        self._last_ping = 0.0
        self._probe: ProbeServer | None = None
        self.pipeline: BatchPipeline | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler or another thread)."""
        self._stop.set()

    def ready(self) -> bool:
        """Ready when it holds a partition (else it persists nothing), its store answered last, and it is not
        stalled (records waiting, nothing fetched for CONSUMER_STALL_S: shared.consumer.stall)."""
        held, stalled = self.assignment.assigned, self.stall.stalled
        return self._store_ok and held and not stalled and not self._stop.is_set()

    def start_probe(self, host: str = "0.0.0.0", port: int | None = None) -> int:  # noqa: S104 - a probe port
        """Serve /health, /ready and /metrics; returns the bound port (0 picks a free one)."""
        self._probe = ProbeServer(
            host,
            self.settings.metrics_port if port is None else port,
            self.metrics,
            self.ready,
        )
        self._probe.start()
        return self._probe.port

    def run(self) -> int:
        """Set up the store, subscribe and process batches until stopped; always closes the consumer."""
        name = self.writer.name
        consumer = self._consumer or Consumer(consumer_config(self.settings, name, self.client_id))
        self._consumer = consumer
        owned = self._dlq_producer is None
        producer: Sender = self._dlq_producer or TradeProducer(
            self.settings, client_id=f"{self.client_id}-dlq"
        )
        dlq = DeadLetterPublisher(producer, self.settings.trades_dlq_topic, name)
        outcomes = OutcomePublisher(producer, self.settings.trades_outcomes_topic)
        self.pipeline = BatchPipeline(self.writer, dlq, self.metrics, self.today, self.now, outcomes)
        try:
            self._retry(self.writer.setup, lambda: self._stop.is_set(), pause=False)
            consumer.subscribe(
                [self.settings.trades_topic], on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            log.info("%s consumer %s subscribed to %s", name, self.client_id, self.settings.trades_topic)
            while not self._stop.is_set():
                self.poll_once()
        except Abandoned:
            log.info("%s consumer stopped before its store became reachable", name)
        finally:
            consumer.close()
            if owned and isinstance(producer, TradeProducer):
                producer.close(5.0)
            self.writer.close()
            if self._probe is not None:
                self._probe.stop()
            log.info("%s consumer closed", name)
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
            self.stall.check(self._consumer, self.assignment.held)
            return
        self.stall.fetched()
        try:
            self.process(records)
        except Abandoned as exc:
            self.metrics.abandoned.inc()
            log.warning(
                "%s batch of %d abandoned, nothing committed: %s", self.writer.name, len(records), exc
            )
            self._rewind(records)

    def _usable(self, msg: Message) -> bool:
        err = msg.error()
        if err is None:
            return True
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("%s consumer error: %s", self.writer.name, err.str())
        return False

    def process(self, records: Sequence[Inbound]) -> None:
        """Run the batch through the pipeline (retrying store calls), then store its offsets."""
        assert self.pipeline is not None, "run() builds the pipeline"
        started = self.clock()
        self._revoked = False

        def retry(action: Callable[[], T], store: bool = True) -> T:
            return self._retry(action, lambda: self._stop.is_set() or self._revoked, store=store)

        self.pipeline.process(records, retry, lambda: self._commit(records))
        self.metrics.batch_seconds.observe(self.clock() - started)

    def _commit(self, records: Sequence[Inbound]) -> None:
        positions = store_offsets(self._consumer, records, self.writer.name)
        self.metrics.lag.set(self.assignment.update_lag(self._consumer, positions))

    # --- store outages ---------------------------------------------------------------------------
    def _retry(
        self, action: Callable[[], T], abandon: Callable[[], bool], pause: bool = True, store: bool = True
    ) -> T:
        paused: list[TopicPartition] = []  # resumed at the end even if revoked meanwhile (positions.resume)

        def on_failure(attempt: int, exc: StoreUnavailable, delay: float) -> None:
            if store:
                self._mark_store(False)
            self.metrics.retries.inc()
            log.warning(
                "%s %s unavailable (attempt %d), retrying in %.2fs: %s",
                self.writer.name,
                "store" if store else "publish",
                attempt,
                delay,
                exc,
            )
            if pause and not paused:
                paused.extend(pause_partitions(self._consumer))

        try:
            result = retry_until_done(action, self.backoff, self._wait, abandon, on_failure)
        finally:
            resume_partitions(self._consumer, paused)
        if store:  # a publish that went through says nothing of the store
            self._mark_store(True)
        return result

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

    def _rewind(self, records: Sequence[Inbound]) -> None:
        if not self._stop.is_set():
            rewind(self._consumer, records, self.assignment.held)

    def _mark_store(self, ok: bool) -> None:
        if ok != self._store_ok:
            log.info("%s store %s", self.writer.name, "reachable" if ok else "unreachable")
        self._store_ok = ok
        self.metrics.store_up.set(1 if ok else 0)
        self._last_ping = self.clock()

    def _idle_ping(self) -> None:
        if self.clock() - self._last_ping < PING_EVERY_S:
            return
        try:
            self.writer.ping()
            self._mark_store(True)
        except StoreUnavailable as exc:
            if self._store_ok:
                log.warning("%s store unavailable while idle: %s", self.writer.name, exc)
            self._mark_store(False)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        resume_partitions(consumer, partitions)  # an assigned partition is never left paused (see resume)
        self.assignment.assign((tp.topic, tp.partition) for tp in partitions)

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._revoked = True
        self.assignment.revoke((tp.topic, tp.partition) for tp in partitions)
