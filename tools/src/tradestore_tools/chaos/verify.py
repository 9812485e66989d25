"""Compare what a store holds with the exact expected outcome: lost, duplicated, regressed, unexpected.

- lost: an acknowledged key missing from the store;
- duplicated: a key held by more than one record (asked of the store itself, and seen while reading);
- regression: a stored record whose fields differ from the expected ones for its key (an older write
  won), or a trade_id whose highest stored version is not the expected one;
- unexpected: a stored key no acknowledged post explains (e.g. a rejected stale version got stored).

A difference explained by a post that never got a 2xx (allowed: it may have been delivered before the
API gave up) is counted as "delivered despite 503" instead, never as a failure. A lost key the store's
own sink dead-lettered is counted by reason too (`lost_dead_lettered`): read and refused, not unread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.kafka import TopicRecord
from shared.kafka.headers import DLQ_REASON, DLQ_SINK
from shared.ports import Key
from shared.schema import TradePayload
from tradestore.regress import model


@dataclass
class StoreCheck:
    """The verdict on one store."""

    store: str
    records: int = 0
    lost: list[Key] = field(default_factory=list)
    duplicated: list[Key] = field(default_factory=list)
    regressions: list[Key] = field(default_factory=list)
    unexpected: list[Key] = field(default_factory=list)
    delivered_despite_503: list[Key] = field(default_factory=list)
    lost_dead_lettered: dict[str, int] = field(default_factory=dict)  # lost keys its sink dead-lettered

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.regressions or self.unexpected)


def expected_records(acked: dict[str, list[dict[str, Any]]], today: date) -> dict[Key, TradePayload]:
    """The records the stores must hold: the independent model (tradestore.regress.model, never the sinks'
    own shared.rules) over the acknowledged posts, each trade_id's in order."""
    records, _rejected = model.expected_outcome(acked, today)
    return records


def as_accepted(posts: Iterable[dict[str, Any]], today: date) -> list[TradePayload]:
    """Posts as the API would have published them (expired follows the maturity date)."""
    return model.as_accepted(posts, today)


def check_store(
    store: str,
    expected: dict[Key, TradePayload],
    stored: Iterable[TradePayload],
    duplicate_keys: Iterable[Key],
    unacked: Iterable[TradePayload] = (),
) -> StoreCheck:
    """Verify one store's records (`stored`, any order) against `expected`."""
    result = StoreCheck(store)
    maybe = {t.key: t for t in unacked}
    seen: dict[Key, TradePayload] = {}
    counts: Counter[Key] = Counter()
    latest: dict[str, int] = {}
    for trade in stored:
        result.records += 1
        counts[trade.key] += 1
        seen[trade.key] = trade
        latest[trade.trade_id] = max(latest.get(trade.trade_id, 0), trade.version)
    result.duplicated = sorted({k for k, n in counts.items() if n > 1} | set(duplicate_keys))
    result.lost = sorted(k for k in expected if k not in seen)
    for key, trade in sorted(seen.items()):
        want = expected.get(key)
        if want == trade:
            continue
        if maybe.get(key) == trade:
            result.delivered_despite_503.append(key)
        elif want is None:
            result.unexpected.append(key)
        else:
            result.regressions.append(key)
    expected_latest: dict[str, int] = {}
    for key in expected:
        expected_latest[key[0]] = max(expected_latest.get(key[0], 0), key[1])
    explained = {k[0] for k in result.delivered_despite_503}
    for trade_id, version in sorted(latest.items()):
        want_version = expected_latest.get(trade_id)
        regressed = want_version is not None and version < want_version
        if regressed and trade_id not in explained and not any(k[0] == trade_id for k in result.regressions):
            result.regressions.append((trade_id, version, "(latest version)"))
    return result


def dead_letter_reasons(records: Iterable[TopicRecord]) -> dict[tuple[str, str], str]:
    """(sink, record key) -> the last `dlq.reason` of each dead letter read back from the DLQ topic."""
    reasons: dict[tuple[str, str], str] = {}
    for r in records:
        sink, reason = r.headers.get(DLQ_SINK), r.headers.get(DLQ_REASON)
        if r.key is not None and sink is not None and reason is not None:
            reasons[(sink.decode(), r.key.decode(errors="replace"))] = reason.decode()
    return reasons


def attribute_lost(check: StoreCheck, reasons: Mapping[tuple[str, str], str]) -> None:
    """Count the lost keys the store's own sink dead-lettered, by reason: a lost record that was read and
    refused (e.g. `lower_version`) is a decision to look at, not a consumer that stopped reading."""
    found: Counter[str] = Counter()
    for trade_id, version, book_id in check.lost:
        reason = reasons.get((check.store, f"{trade_id}:{version}:{book_id}"))
        if reason is not None:
            found[reason] += 1
    check.lost_dead_lettered = dict(sorted(found.items()))
