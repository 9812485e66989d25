"""Compare MongoDB and SQL record by record: what is missing on either side, and what differs.

Both stores stream their trades in code-point key order (the TradeAudit contract: MongoDB's binary
string order; SQL by UTF-8 bytes / a binary collation), the order Python compares keys in, so one
merge-join pass finds every difference. A store yielding keys out of that order would produce false
differences: the merge stops with ReconcileOrderError instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from shared.ports import Key, TradeAudit
from shared.schema import TradePayload


@dataclass
class Reconciliation:
    """The differences between two stores (left = MongoDB, right = SQL)."""

    left: str
    right: str
    compared: int = 0
    missing_right: list[Key] = field(default_factory=list)
    missing_left: list[Key] = field(default_factory=list)
    different: list[tuple[Key, dict[str, tuple[object, object]]]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing_left or self.missing_right or self.different)


class ReconcileOrderError(RuntimeError):
    """A store yielded its trades out of code-point key order, so a merge-join cannot compare them."""


def in_key_order(trades: Iterator[TradePayload], store: str) -> Iterator[TradePayload]:
    """Pass trades through, failing loudly when a key is not above the previous one."""
    previous: Key | None = None
    for trade in trades:
        if previous is not None and trade.key <= previous:
            raise ReconcileOrderError(
                f"{store} returned {trade.key!r} after {previous!r}: not in code-point key order"
            )
        previous = trade.key
        yield trade


def _next(it: Iterator[TradePayload]) -> TradePayload | None:
    return next(it, None)


def field_differences(a: TradePayload, b: TradePayload) -> dict[str, tuple[object, object]]:
    left, right = a.model_dump(), b.model_dump()
    return {k: (left[k], right[k]) for k in left if left[k] != right[k]}


def reconcile(left: TradeAudit, right: TradeAudit, prefix: str = "") -> Reconciliation:
    """Merge-join both stores' trades in key order (streaming: memory does not grow with the stores)."""
    result = Reconciliation(left.name, right.name)
    lit = in_key_order(left.iter_trades(prefix), left.name)
    rit = in_key_order(right.iter_trades(prefix), right.name)
    a, b = _next(lit), _next(rit)
    while a is not None or b is not None:
        result.compared += 1
        if b is None or (a is not None and a.key < b.key):
            assert a is not None
            result.missing_right.append(a.key)
            a = _next(lit)
        elif a is None or b.key < a.key:
            result.missing_left.append(b.key)
            b = _next(rit)
        else:
            diff = field_differences(a, b)
            if diff:
                result.different.append((a.key, diff))
            a, b = _next(lit), _next(rit)
    return result
