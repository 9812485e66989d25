"""Trade outcomes: what a sink decided for one record of `trades`, and the verdict of all sinks together.

Each sink publishes one outcome per processed record to TRADES_OUTCOMES_TOPIC (key = the record key
`trade_id:version:book_id`) after its write and before it stores offsets. The API reads them to answer
`Prefer: wait` and the status endpoint. With several sinks the verdict is:
- rejected as soon as any sink rejected the record (the version rule is the same everywhere, so the others
  reject it too);
- stored once every expected sink stored it;
- pending otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import orjson

from shared.schema import record_key

LOWER_VERSION = "lower_version"
LOWER_VERSION_TYPE = "https://tradestore.dev/problems/lower-version"  # problem+json `type` of a 409


class State(enum.StrEnum):
    STORED = "stored"
    REJECTED = "rejected"
    PENDING = "pending"


@dataclass(frozen=True)
class Outcome:
    """One sink's decision on the record at (partition, offset) of the trades topic."""

    trade_id: str
    version: int
    book_id: str
    state: State
    sink: str
    partition: int
    offset: int
    reason: str | None = None  # the dead-letter reason when rejected (lower_version, store_rejected, ...)
    detail: str | None = None
    max_version: int | None = None  # the highest stored version when the version rule rejected it

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.trade_id, self.version, self.book_id)

    @property
    def position(self) -> tuple[int, int]:
        return (self.partition, self.offset)

    def record_key(self) -> bytes:
        return record_key(self.trade_id, self.version, self.book_id)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self)  # orjson writes a dataclass natively: same bytes as asdict, ~10x cheaper


def parse_outcome(value: bytes | None) -> Outcome | None:
    """The outcome a record of the outcomes topic holds, or None for anything else (never raises)."""
    try:
        raw = orjson.loads(value or b"")
        raw["state"] = State(raw["state"])
        outcome = Outcome(**raw)
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
        return None
    ok = isinstance(outcome.version, int) and isinstance(outcome.partition, int)
    return outcome if ok and isinstance(outcome.offset, int) else None


@dataclass(frozen=True)
class Verdict:
    """The stores' verdict on one record, from the outcomes of the sinks that decided so far."""

    state: State
    sinks: dict[str, Outcome] = field(default_factory=dict)

    @property
    def deciding(self) -> Outcome | None:
        """The outcome that explains the verdict: the first rejection, else any stored outcome."""
        rejected = [o for o in self.sinks.values() if o.state is State.REJECTED]
        if rejected:
            return rejected[0]
        return next(iter(self.sinks.values()), None)

    @property
    def reason(self) -> str | None:
        deciding = self.deciding
        return deciding.reason if deciding is not None and self.state is State.REJECTED else None

    @property
    def max_version(self) -> int | None:
        versions = [o.max_version for o in self.sinks.values() if o.max_version is not None]
        return max(versions) if versions else None

    def summary(self) -> dict[str, dict[str, object]]:
        """Per sink: its state, and why when it rejected the record."""
        return {
            name: {"state": o.state.value, "reason": o.reason, "detail": o.detail}
            for name, o in sorted(self.sinks.items())
        }


def combine(outcomes: Mapping[str, Outcome], expected: Collection[str]) -> Verdict:
    """Rejected if any sink rejected; stored when every expected sink stored; else pending."""
    sinks = dict(outcomes)
    if any(o.state is State.REJECTED for o in sinks.values()):
        return Verdict(State.REJECTED, sinks)
    stored = {name for name, o in sinks.items() if o.state is State.STORED}
    if stored and set(expected) <= stored:
        return Verdict(State.STORED, sinks)
    return Verdict(State.PENDING, sinks)
