"""An independent model of what the stores must hold, written from the README's rules (issue 19).

Deliberately simple and separate from the code under test: it never calls shared.rules (plan_batch,
apply_maturity, decide_version, is_matured), so the regression runner and the fault run check the sinks
against a second reading of the rules, not against the functions the sinks themselves run. A property test
(tests/unit/test_oracle_model.py) pits the two readings against each other.

The README's rules, as modelled here:
- expired follows the maturity date whatever the client sent: maturity_date < today means expired
  (policy ``flag``); policy ``reject`` refuses such a trade (nothing is stored);
- with ``max`` the highest version stored for the trade_id: version < max is rejected (store unchanged,
  even if that exact key is stored); version == max overrides the record with the same
  (trade_id, version, book_id) or adds one for another book; version > max is stored as a new record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.ports import Key
from shared.schema import TradePayload

STORED = "stored"  # a new record (first or higher version, or same version for another book)
OVERRIDDEN = "overridden"  # same version, same key: the record is replaced
REJECTED = "rejected"  # lower version: to the dead-letter topic, store unchanged
REFUSED = "refused"  # matured under policy reject: never published


def expired_on(trade: Mapping[str, Any], today: date) -> bool:
    """The README: a trade maturing before today is expired."""
    maturity = trade["maturity_date"]
    if isinstance(maturity, str):
        maturity = date.fromisoformat(maturity)
    return bool(maturity < today)


@dataclass
class StoreModel:
    """A store as two dicts: trade_id -> highest version, key -> record (fields as the README says)."""

    today: date
    policy: str = "flag"
    max_version: dict[str, int] = field(default_factory=dict)
    records: dict[Key, dict[str, Any]] = field(default_factory=dict)
    rejected: int = 0
    refused: int = 0

    def post(self, trade: Mapping[str, Any]) -> str:
        """Apply one accepted post (in the order of its trade_id's partition); what happened to it."""
        record = dict(trade)
        record["expired"] = expired_on(trade, self.today)
        if record["expired"] and self.policy == "reject":
            self.refused += 1
            return REFUSED
        trade_id, version = record["trade_id"], int(record["version"])
        key: Key = (trade_id, version, record["book_id"])
        top = self.max_version.get(trade_id)
        if top is not None and version < top:
            self.rejected += 1
            return REJECTED
        outcome = OVERRIDDEN if key in self.records else STORED
        self.records[key] = record
        self.max_version[trade_id] = version
        return outcome

    def post_all(self, trades: Iterable[Mapping[str, Any]]) -> list[str]:
        return [self.post(t) for t in trades]

    def payloads(self) -> dict[Key, TradePayload]:
        """The records as the stores return them (TradePayload), by key."""
        return {key: TradePayload.model_validate(record) for key, record in self.records.items()}


def expected_outcome(
    groups: Mapping[str, Iterable[Mapping[str, Any]]], today: date
) -> tuple[dict[Key, TradePayload], int]:
    """The records the stores must hold after every group (one trade_id's posts, in order) is applied,
    and how many posts were rejected as lower versions; policy ``flag``."""
    model = StoreModel(today)
    for posts in groups.values():
        model.post_all(posts)
    return model.payloads(), model.rejected


def as_accepted(posts: Iterable[Mapping[str, Any]], today: date) -> list[TradePayload]:
    """Posts as the API publishes them under policy ``flag``: expired follows the maturity date."""
    return [TradePayload.model_validate({**p, "expired": expired_on(p, today)}) for p in posts]
