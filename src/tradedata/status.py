"""What happened to the record (trade_id, version, book_id): stored, rejected, pending, or never accepted.

Sources, each the authority on its answer and each surviving an API restart except the first:
1. the outcome watcher's recent verdicts (exact: per sink, with the reason);
2. the store the API reads (stored means stored; the store is the authority on the version rule);
3. the dead-letter topic (every rejection is dead-lettered with its reason before offsets are stored);
4. the trades topic past the sink groups' committed offsets (accepted, not processed yet: pending).
None of them: TradeStore never accepted such a record (404).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from shared.errors import StoreUnavailable
from shared.kafka import client_config, partition_for
from shared.operations.dlq import DlqFilter, read_dead_letters
from shared.operations.lag import consumer_lag, sink_groups
from shared.operations.reading import BrokerUnavailable
from shared.outcomes import State, Verdict
from shared.ports import TradeReader
from shared.settings import Settings
from tradedata.outcomes import OutcomeWatcher

Key = tuple[str, int, str]


@dataclass(frozen=True)
class TradeStatus:
    """The answer of GET /trades/{trade_id}/status."""

    state: State
    reason: str | None = None
    detail: str | None = None
    sinks: dict[str, dict[str, object]] = field(default_factory=dict)
    source: str = "outcomes"

    def body(self, key: Key) -> dict[str, object]:
        trade_id, version, book_id = key
        return {
            "trade_id": trade_id,
            "version": version,
            "book_id": book_id,
            "state": self.state.value,
            "reason": self.reason,
            "detail": self.detail,
            "sinks": self.sinks,
            "source": self.source,
        }


Lookup = Callable[[Key], "TradeStatus | None"]


@dataclass
class Outcomes:
    """What the API knows of the sinks' verdicts: the live watcher (Prefer: wait, recent verdicts) and the
    durable lookups of the status endpoint. Wired by the composition root when it owns the Kafka clients;
    tests inject their own."""

    watcher: OutcomeWatcher
    dead_letters: Lookup
    unprocessed: Lookup

    @classmethod
    def from_settings(cls, settings: Settings) -> Outcomes:
        return cls(
            OutcomeWatcher(settings),
            partial(from_dead_letters, settings),
            partial(from_trades_topic, settings),
        )

    def stop(self) -> None:
        self.watcher.stop()


def from_verdict(verdict: Verdict) -> TradeStatus:
    deciding = verdict.deciding
    detail = deciding.detail if deciding is not None and verdict.state is State.REJECTED else None
    return TradeStatus(verdict.state, verdict.reason, detail, verdict.summary(), "outcomes")


def from_store(reader: TradeReader, key: Key) -> TradeStatus | None:
    """Stored when the store holds the key (reads through the API's store reader)."""
    if any(stored.key == key for stored in reader.versions(key[0])):
        sinks: dict[str, dict[str, object]] = {
            reader.name: {"state": "stored", "reason": None, "detail": None}
        }
        return TradeStatus(State.STORED, sinks=sinks, source="store")
    return None


def from_dead_letters(settings: Settings, key: Key) -> TradeStatus | None:
    """Rejected when a sink dead-lettered a record with this key (reason and detail from its headers)."""
    wanted = f"{key[0]}:{key[1]}:{key[2]}".encode()
    try:
        found = read_dead_letters(settings, DlqFilter(trade_id=key[0]))
    except BrokerUnavailable as exc:
        raise StoreUnavailable(f"dead-letter topic: {exc}") from None
    letters = [r for r in found if r.key == wanted]
    if not letters:
        return None
    sinks: dict[str, dict[str, object]] = {}
    for letter in letters:
        sinks[letter.header("dlq.sink") or "unknown"] = {
            "state": "rejected",
            "reason": letter.header("dlq.reason"),
            "detail": letter.header("dlq.detail"),
        }
    last = letters[-1]
    return TradeStatus(
        State.REJECTED, last.header("dlq.reason"), last.header("dlq.detail"), sinks, "dead-letters"
    )


def from_trades_topic(settings: Settings, key: Key, idle_s: float = 0.5) -> TradeStatus | None:
    """Pending when the record sits on the trades topic past the lowest committed offset of the sinks."""
    config = {**client_config(settings), "group.id": f"tradedata-status-{uuid.uuid4().hex}"}
    reader = Consumer({**config, "enable.auto.commit": False})
    try:
        return _find_unprocessed(settings, reader, key, idle_s)
    except (KafkaException, BrokerUnavailable) as exc:
        raise StoreUnavailable(f"trades topic: {exc}") from None
    finally:
        reader.close()


def _find_unprocessed(settings: Settings, reader: Any, key: Key, idle_s: float) -> TradeStatus | None:
    topic = settings.trades_topic
    meta = reader.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return None
    partition = partition_for(key[0], len(meta.partitions))  # where TradeData put every record of trade_id
    groups = sorted(set(sink_groups(settings).values()))
    committed = [lag.committed or 0 for lag in consumer_lag(settings, groups) if lag.partition == partition]
    reader.assign([TopicPartition(topic, partition, min(committed, default=0))])
    wanted = f"{key[0]}:{key[1]}:{key[2]}".encode()
    if _read_until_idle(reader, lambda msg: msg.key() == wanted, idle_s):
        return TradeStatus(State.PENDING, source="trades-topic")
    return None


def _read_until_idle(
    reader: Any, found: Callable[[Any], bool], idle_s: float, deadline_s: float = 10.0
) -> bool:
    """Poll until a record satisfies `found`, nothing arrived for `idle_s`, or the deadline passed."""
    last = time.monotonic()
    deadline = last + deadline_s
    while time.monotonic() < deadline and time.monotonic() - last < idle_s:
        for msg in reader.consume(num_messages=500, timeout=0.1):
            if msg.error() is None:
                last = time.monotonic()
                if found(msg):
                    return True
    return False
