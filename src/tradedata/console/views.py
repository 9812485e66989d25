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
from shared.ports import Key
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


Origin = tuple[int, int]  # (partition, offset) of the trades record a store holds a key from


@dataclass(frozen=True)
class VersionRow:
    """One (version, book_id) of a trade: where each store holds it from and what happened to it."""

    version: int
    book_id: str
    trade: TradePayload | None
    mongo_at: Origin | None
    sql_at: Origin | None
    dead: list[KafkaRecord]

    @property
    def outcome(self) -> str:
        if self.mongo_at and self.sql_at:
            return "stored"
        reasons = sorted({f"{d.header('dlq.reason')} ({d.header('dlq.sink')})" for d in self.dead})
        if reasons:
            return "dead-lettered: " + ", ".join(reasons)
        return "pending" if self.mongo_at or self.sql_at else "unknown"


def _key_of(letter: KafkaRecord) -> tuple[int, str] | None:
    parts = (letter.key or b"").decode("utf-8", "replace").rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return int(parts[1]), parts[2]
    return None


def trade_versions(
    trade_id: str,
    trades: list[TradePayload],
    dead: list[KafkaRecord],
    mongo_at: dict[Key, Origin],
    sql_at: dict[Key, Origin],
) -> list[VersionRow]:
    """Every (version, book_id) seen in a store or the DLQ, highest version first."""
    by_key = {(t.version, t.book_id): t for t in trades}
    keys = set(by_key) | {k for k in map(_key_of, dead) if k is not None}
    rows = []
    for version, book in keys:
        full = (trade_id, version, book)
        letters = [d for d in dead if _key_of(d) == (version, book)]
        rows.append(
            VersionRow(
                version, book, by_key.get((version, book)), mongo_at.get(full), sql_at.get(full), letters
            )
        )
    return sorted(rows, key=lambda r: (-r.version, r.book_id))


@dataclass
class TradeDetail:
    rows: list[VersionRow]
    errors: list[str]


def trade_detail(settings: Settings, mongo: Any, sql: Any, trade_id: str) -> TradeDetail:
    """A trade's versions from both stores and the DLQ; a store that fails is named, the rest shown."""
    errors: list[str] = []

    def attempt(name: str, call: Any, default: Any) -> Any:
        try:
            return call()
        except Exception as exc:  # one part down: the page says so and shows the rest
            errors.append(f"{name}: {unavailable(settings, exc)}")
            return default

    in_mongo = attempt("MongoDB", lambda: [s.trade for s in mongo.versions(trade_id)], [])
    in_sql = attempt("SQL", lambda: [t for t in sql.iter_trades(trade_id) if t.trade_id == trade_id], [])
    dead = attempt("DLQ", lambda: dead_letters_of(settings, trade_id), [])
    keys = {t.key for t in [*in_mongo, *in_sql]}
    keys |= {(trade_id, *k) for k in map(_key_of, dead) if k is not None}
    mongo_at = attempt("MongoDB", lambda: mongo.stored_origins(keys), {})
    sql_at = attempt("SQL", lambda: sql.stored_origins(keys), {})
    return TradeDetail(trade_versions(trade_id, [*in_sql, *in_mongo], dead, mongo_at, sql_at), errors)


def dead_letters_of(settings: Settings, trade_id: str) -> list[KafkaRecord]:
    return [
        d for d in read_dead_letters(settings, DlqFilter(trade_id=trade_id)) if trade_id_of(d) == trade_id
    ]
