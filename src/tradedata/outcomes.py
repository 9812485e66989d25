"""The API's outcome watcher: one thread reading TRADES_OUTCOMES_TOPIC, resolving `Prefer: wait` waiters.

Started lazily by the first request that asks for a verdict, so requests that do not ask cost nothing. It
assigns every partition from a timestamp TRADEDATA_OUTCOME_LOOKBACK_S in the past (no group join), so an
outcome published between a record's acknowledgement and the watcher's start is still seen; a waiter
registers under the same lock that records outcomes, so a verdict that arrived first is found in the cache.
The cache is bounded (the most recent TRADEDATA_OUTCOME_CACHE records by position).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from shared.kafka import client_config, ensure_topics
from shared.outcomes import Outcome, State, Verdict, combine, parse_outcome
from shared.settings import Settings

log = logging.getLogger("tradedata.outcomes")

Position = tuple[int, int]  # (partition, offset) of a record of the trades topic
Key = tuple[str, int, str]
Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Verdict]", Key]


class OutcomeWatcher:
    """Verdicts of the sinks per record position; `wait` resolves when the verdict is final."""

    def __init__(self, settings: Settings, consumer_factory: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self.expected = settings.outcome_sinks()
        self._factory = consumer_factory or self._new_consumer
        self._lock = threading.Lock()
        self._cache: OrderedDict[Position, dict[str, Outcome]] = OrderedDict()
        self._by_key: dict[Key, Position] = {}
        self._waiters: dict[Position, list[Waiter]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.assigned = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the reading thread once (cheap when already running)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outcome-watcher", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _new_consumer(self) -> Any:
        config = client_config(self.settings)
        group = f"tradedata-outcomes-{uuid.uuid4().hex}"  # never joined: assign() only, nothing committed
        return Consumer(
            {
                **config,
                "group.id": group,
                "enable.auto.commit": False,
                "client.id": "tradedata",
                "fetch.wait.max.ms": 20,
            }
        )

    def _run(self) -> None:
        topic = self.settings.trades_outcomes_topic
        started_ms = int((time.time() - self.settings.tradedata_outcome_lookback_s) * 1000)
        while not self._stop.is_set():
            consumer = None
            try:
                ensure_topics(self.settings, [topic])
                consumer = self._factory()
                self._assign(consumer, topic, started_ms)
                self._poll(consumer, started_ms)
            except (KafkaException, RuntimeError) as exc:
                log.warning("outcome watcher: %s; retrying", exc)
                self._stop.wait(1.0)
            finally:
                if consumer is not None:
                    consumer.close()

    def _assign(self, consumer: Any, topic: str, since_ms: int) -> None:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise RuntimeError(f"topic {topic!r} has no partitions yet")
        wanted = [TopicPartition(topic, p, since_ms) for p in sorted(meta.partitions)]
        found = consumer.offsets_for_times(wanted, timeout=10)
        consumer.assign(
            [TopicPartition(topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in found]
        )
        self.assigned.set()

    def _poll(self, consumer: Any, since_ms: int) -> None:
        """Record every event from `since_ms` on (Tansu answers offset 0 to a timestamp lookup that no
        record is newer than, so older events are skipped here by their own timestamp)."""
        while not self._stop.is_set():
            msg = consumer.poll(0.2)  # returns as soon as one event arrives (consume() waits for a batch)
            if msg is not None and msg.error() is None and msg.timestamp()[1] >= since_ms:
                outcome = parse_outcome(msg.value())
                if outcome is not None:
                    self.record(outcome)

    # --- outcomes and waiters --------------------------------------------------------------------
    def record(self, outcome: Outcome) -> None:
        """Keep one sink's outcome; wake the waiters of that record once its verdict is final."""
        position = outcome.position
        with self._lock:
            sinks = self._cache.setdefault(position, {})
            sinks[outcome.sink] = outcome
            self._cache.move_to_end(position)
            self._by_key[outcome.key] = position
            while len(self._cache) > self.settings.tradedata_outcome_cache:
                old, old_sinks = self._cache.popitem(last=False)
                for o in old_sinks.values():
                    if self._by_key.get(o.key) == old:
                        del self._by_key[o.key]
            verdict = combine(sinks, self.expected)
            waiters = self._waiters.pop(position, []) if verdict.state is not State.PENDING else []
        for loop, future, key in waiters:
            if key == outcome.key:
                loop.call_soon_threadsafe(_resolve, future, verdict)

    def verdict(self, key: Key) -> Verdict | None:
        """The latest verdict known for a record key (None when no sink reported it since the start)."""
        with self._lock:
            position = self._by_key.get(key)
            sinks = dict(self._cache.get(position, {})) if position is not None else {}
        return combine(sinks, self.expected) if sinks else None

    async def wait(self, key: Key, position: Position, timeout_s: float) -> Verdict | None:
        """The final verdict on the record at `position` (it must hold `key`), or None after timeout_s."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Verdict] = loop.create_future()
        with self._lock:
            known = combine(self._cache.get(position, {}), self.expected)
            if known.state is not State.PENDING and known.deciding and known.deciding.key == key:
                return known
            self._waiters.setdefault(position, []).append((loop, future, key))
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            with self._lock:
                left = [w for w in self._waiters.get(position, []) if w[1] is not future]
                if left:
                    self._waiters[position] = left
                else:
                    self._waiters.pop(position, None)


def _resolve(future: asyncio.Future[Verdict], verdict: Verdict) -> None:
    if not future.done():
        future.set_result(verdict)
