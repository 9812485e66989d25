"""reconcile merges in code-point key order and refuses a store that yields another order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from shared.ports import StoreSummary
from shared.schema import SAMPLE_TRADE, TradePayload
from tradestore.reconcile import ReconcileOrderError, reconcile

# Python (and MongoDB, and the SQL store) order: U+E000 before U+1F600; UTF-16 code units order the reverse.
IDS = ["A", "a", "é", "\ue000", "\U0001f600"]


class ListAudit:
    def __init__(self, name: str, ids: list[str]) -> None:
        self.name = name
        self.trades = [TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": i}) for i in ids]

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        return iter([t for t in self.trades if t.trade_id.startswith(prefix)])

    def summary(self, prefix: str = "") -> StoreSummary:
        return StoreSummary(total=len(self.trades))

    def expire(self, today: date) -> int:
        return 0

    def close(self) -> None:
        return None


def test_stores_in_code_point_order_reconcile_clean() -> None:
    result = reconcile(ListAudit("mongo", IDS), ListAudit("sql", sorted(IDS)))
    assert result.clean
    assert result.compared == len(IDS)


def test_a_missing_trade_outside_the_bmp_is_reported_once_not_as_false_differences() -> None:
    result = reconcile(ListAudit("mongo", IDS), ListAudit("sql", IDS[:-1]))
    assert result.missing_right == [("\U0001f600", 1, "B-1")]
    assert not result.missing_left
    assert not result.different


def test_a_store_in_utf16_order_stops_the_merge_instead_of_reporting_false_differences() -> None:
    utf16 = sorted(IDS, key=lambda s: s.encode("utf-16-be"))
    assert utf16 != sorted(IDS)
    with pytest.raises(ReconcileOrderError, match="sql returned"):
        reconcile(ListAudit("mongo", IDS), ListAudit("sql", utf16))
