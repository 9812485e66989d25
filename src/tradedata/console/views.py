"""What each console page shows, gathered synchronously (the routes run these in the thread pool).

Store and broker failures become a line on the page ("unavailable: ..."), never a 500: the console is
what an operator opens when something is down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.operations.dlq import DlqFilter, counts_by_reason, read_dead_letters, trade_id_of
from shared.operations.lag import PartitionLag, consumer_lag
from shared.operations.reading import KafkaRecord
from shared.redact import redact_text
from shared.schema import TradePayload
from shared.settings import Settings
from tradedata.console.health import Sampler, SinkStatus


def unavailable(settings: Settings, exc: Exception) -> str:
    return "unavailable: " + redact_text(str(exc), settings.secret_values())[:200]


@dataclass
class Health:
    broker_ok: bool
    sinks: dict[str, SinkStatus]
    lag: list[PartitionLag]
    dlq_counts: dict[str, int]
    errors: list[str] = field(default_factory=list)


def health(settings: Settings, producer: Any, sampler: Sampler) -> Health:
    errors: list[str] = []
    broker_ok = bool(producer is not None and producer.broker_reachable())
    sinks = sampler.sample()
    lag: list[PartitionLag] = []
    counts: dict[str, int] = {}
    try:
        lag = consumer_lag(settings)
        counts = counts_by_reason(read_dead_letters(settings))
    except Exception as exc:  # the page says what failed; the rest still renders
        errors.append(f"broker: {unavailable(settings, exc)}")
    return Health(broker_ok, sinks, lag, counts, errors)


def lag_items(lag: list[PartitionLag]) -> list[tuple[str, float]]:
    """Bar chart rows: `group p<partition>` -> records behind."""
    return [(f"{p.group.removeprefix('tradestore-')} p{p.partition}", float(p.lag)) for p in lag]


@dataclass(frozen=True)
class VersionRow:
    """One (version, book_id) of a trade: where it is stored and what happened to it."""

    version: int
    book_id: str
    trade: TradePayload | None
    in_mongo: bool
    in_sql: bool
    dead: list[KafkaRecord]

    @property
    def outcome(self) -> str:
        if self.in_mongo and self.in_sql:
            return "stored"
        reasons = sorted({f"{d.header('dlq.reason')} ({d.header('dlq.sink')})" for d in self.dead})
        if reasons:
            return "dead-lettered: " + ", ".join(reasons)
        return "pending" if self.in_mongo or self.in_sql else "unknown"


def _key_of(letter: KafkaRecord) -> tuple[int, str] | None:
    parts = (letter.key or b"").decode("utf-8", "replace").rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return int(parts[1]), parts[2]
    return None


def trade_versions(
    mongo: list[TradePayload], sql: list[TradePayload], dead: list[KafkaRecord]
) -> list[VersionRow]:
    """Every (version, book_id) seen in either store or the DLQ, highest version first."""
    keys = {(t.version, t.book_id) for t in mongo} | {(t.version, t.book_id) for t in sql}
    keys |= {k for k in map(_key_of, dead) if k is not None}
    by_key = {(t.version, t.book_id): t for t in [*sql, *mongo]}
    in_mongo = {(t.version, t.book_id) for t in mongo}
    in_sql = {(t.version, t.book_id) for t in sql}
    rows = [
        VersionRow(
            v,
            b,
            by_key.get((v, b)),
            (v, b) in in_mongo,
            (v, b) in in_sql,
            [d for d in dead if _key_of(d) == (v, b)],
        )
        for v, b in keys
    ]
    return sorted(rows, key=lambda r: (-r.version, r.book_id))


def dead_letters_of(settings: Settings, trade_id: str) -> list[KafkaRecord]:
    return [
        d for d in read_dead_letters(settings, DlqFilter(trade_id=trade_id)) if trade_id_of(d) == trade_id
    ]
