"""Dead letters for operators: list with filters, show one, redrive selected ones to the trades topic.

One implementation for `tradestore dlq` and the API console. A redrive republishes the original key and
value through the same producer as the API (shared.kafka.TradeProducer: same partitioner, acks=all),
with headers `redrive.of` (dlq topic:partition:offset), `redrive.at` (UTC, ISO 8601) and the original
`tradestore.principal` when present; the sinks apply the same rules again and upsert idempotently, so
redriving a record twice is harmless.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import orjson

from shared.kafka import Delivery
from shared.kafka.headers import DLQ_REASON, DLQ_SINK, PRINCIPAL, REDRIVE_AT, REDRIVE_OF
from shared.operations.reading import KafkaRecord, read_topic
from shared.settings import Settings

Headers = list[tuple[str, bytes]]


class Sender(Protocol):
    """The part of shared.kafka.TradeProducer a redrive publishes through."""

    def send(
        self, topic: str, value: bytes, key: bytes, headers: Sequence[tuple[str, bytes]] | None = None
    ) -> Future[Delivery]: ...


@dataclass(frozen=True)
class DlqFilter:
    """Which dead letters to select; None means any. `positions` are PARTITION:OFFSET strings."""

    reason: str | None = None
    sink: str | None = None
    trade_id: str | None = None
    positions: frozenset[str] | None = None

    def matches(self, letter: KafkaRecord) -> bool:
        return (
            (self.reason is None or letter.header(DLQ_REASON) == self.reason)
            and (self.sink is None or letter.header(DLQ_SINK) == self.sink)
            and (self.trade_id is None or trade_id_of(letter) == self.trade_id)
            and (self.positions is None or letter.position in self.positions)
        )


def parse_position(text: str) -> str:
    """`PARTITION:OFFSET` normalised, or ValueError with a message naming the expected form."""
    partition, sep, offset = text.strip().partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise ValueError(f"{text!r} is not PARTITION:OFFSET (for example 2:17)")
    return f"{int(partition)}:{int(offset)}"


def trade_id_of(letter: KafkaRecord) -> str | None:
    """The value's trade_id, else the key up to its first ':' (undecodable records have only a key)."""
    try:
        value = orjson.loads(letter.value or b"")
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("trade_id"), str):
        return str(value["trade_id"])
    if letter.key:
        return letter.key.decode("utf-8", "replace").split(":", 1)[0]
    return None


def read_dead_letters(settings: Settings, selection: DlqFilter | None = None) -> list[KafkaRecord]:
    """The dead letters matching `selection`, in partition then offset order."""
    wanted = selection or DlqFilter()
    records = read_topic(settings, settings.trades_dlq_topic)
    return sorted((r for r in records if wanted.matches(r)), key=lambda r: (r.partition, r.offset))


def find_dead_letter(settings: Settings, position: str) -> KafkaRecord | None:
    found = read_dead_letters(settings, DlqFilter(positions=frozenset({parse_position(position)})))
    return found[0] if found else None


def counts_by_reason(letters: Iterable[KafkaRecord]) -> dict[str, int]:
    """How many dead letters carry each `dlq.reason`, most frequent first."""
    counts = Counter(letter.header(DLQ_REASON) or "unknown" for letter in letters)
    return dict(counts.most_common())


@dataclass(frozen=True)
class Redrive:
    """One record a redrive sends: the original key and value with the redrive headers."""

    origin: KafkaRecord
    topic: str
    key: bytes
    value: bytes
    headers: Headers


def plan_redrive(letters: Sequence[KafkaRecord], topic: str, now: datetime | None = None) -> list[Redrive]:
    """What a redrive of `letters` sends to `topic` (pure: --dry-run prints exactly this)."""
    at = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").encode()
    plans = []
    for letter in letters:
        headers: Headers = [
            (REDRIVE_OF, f"{letter.topic}:{letter.partition}:{letter.offset}".encode()),
            (REDRIVE_AT, at),
        ]
        principal = [(k, v) for k, v in letter.headers if k == PRINCIPAL]
        plans.append(Redrive(letter, topic, letter.key or b"", letter.value or b"", headers + principal[-1:]))
    return plans


@dataclass(frozen=True)
class Redriven:
    """Where the broker stored a redriven record."""

    origin: str  # PARTITION:OFFSET in the DLQ
    partition: int
    offset: int


def redrive(plans: Sequence[Redrive], producer: Sender, timeout_s: float = 10.0) -> list[Redriven]:
    """Send every planned record and wait for each acknowledgement (PublishUnavailable if one fails)."""
    futures = [(p, producer.send(p.topic, value=p.value, key=p.key, headers=p.headers)) for p in plans]
    done = []
    for plan, future in futures:
        delivery = future.result(timeout_s)
        done.append(Redriven(plan.origin.position, delivery.partition, delivery.offset))
    return done
