"""The fault run's verification: a lost key, a duplicate, a regression and a stray record are each caught."""

from __future__ import annotations

from datetime import date
from typing import Any

from fixtures.consumers import make_trade
from shared.kafka import TopicRecord
from shared.schema import TradePayload
from tradestore_tools.chaos.verify import (
    StoreCheck,
    as_accepted,
    attribute_lost,
    check_store,
    dead_letter_reasons,
    expected_records,
)

TODAY = date(2025, 10, 1)


def post(trade_id: str, version: int, **changes: Any) -> dict[str, Any]:
    return make_trade(trade_id, version=version, **changes)


ACKED = {
    "T-1": [post("T-1", 1), post("T-1", 2), post("T-1", 1)],  # the stale v1 is rejected, v1 stays
    "T-2": [post("T-2", 1), post("T-2", 1, counterparty_id="CP-OVERRIDE")],  # same key overrides
}


def expected() -> dict[Any, TradePayload]:
    return expected_records(ACKED, TODAY)


def stored(*posts: dict[str, Any]) -> list[TradePayload]:
    return as_accepted(posts, TODAY)


def exact() -> list[TradePayload]:
    return stored(post("T-1", 1), post("T-1", 2), post("T-2", 1, counterparty_id="CP-OVERRIDE"))


def test_a_store_holding_exactly_the_expected_records_passes() -> None:
    check = check_store("fake", expected(), exact(), duplicate_keys=[])
    assert check.ok
    assert check.records == 3


def test_a_missing_acknowledged_key_is_lost() -> None:
    check = check_store("fake", expected(), exact()[1:], duplicate_keys=[])
    assert check.lost == [("T-1", 1, "B-1")]
    assert not check.ok


def test_a_key_stored_twice_is_duplicated_whether_seen_or_reported_by_the_store() -> None:
    seen_twice = check_store("fake", expected(), [*exact(), exact()[0]], duplicate_keys=[])
    reported = check_store("fake", expected(), exact(), duplicate_keys=[("T-2", 1, "B-2")])
    assert seen_twice.duplicated == [("T-1", 1, "B-1")]
    assert reported.duplicated == [("T-2", 1, "B-2")]
    assert not seen_twice.ok
    assert not reported.ok


def test_an_older_write_winning_over_an_override_is_a_regression() -> None:
    records = stored(post("T-1", 1), post("T-1", 2), post("T-2", 1))  # the override was lost
    check = check_store("fake", expected(), records, duplicate_keys=[])
    assert check.regressions == [("T-2", 1, "B-1")]
    assert not check.ok


def test_a_lower_latest_version_is_a_regression_and_a_loss() -> None:
    check = check_store("fake", expected(), stored(post("T-1", 1)), duplicate_keys=[])
    assert ("T-1", 2, "B-1") in check.lost
    assert check.regressions == [("T-1", 1, "(latest version)")]  # T-1's latest is 1, expected 2
    assert not check.ok


def test_a_record_no_acknowledged_post_explains_is_unexpected() -> None:
    check = check_store("fake", expected(), [*exact(), *stored(post("T-3", 1))], duplicate_keys=[])
    assert check.unexpected == [("T-3", 1, "B-1")]
    assert not check.ok


def test_a_refused_post_that_was_delivered_anyway_is_allowed_and_reported() -> None:
    unacked = stored(post("T-3", 1))
    check = check_store("fake", expected(), [*exact(), *unacked], duplicate_keys=[], unacked=unacked)
    assert check.ok
    assert check.delivered_despite_503 == [("T-3", 1, "B-1")]


def test_lost_keys_the_sink_dead_lettered_are_counted_by_reason() -> None:
    """The 80 s 'no read' of issue 16: the missing records had been read and dead-lettered; the report says
    so instead of leaving a consumer that looks stalled."""

    def letter(key: bytes, sink: bytes, reason: bytes, offset: int) -> TopicRecord:
        headers = {"dlq.sink": sink, "dlq.reason": reason}
        return TopicRecord("trades.dlq", 0, offset, key, b"{}", headers)

    reasons = dead_letter_reasons(
        [
            letter(b"T-1:1:B-1", b"mongo", b"lower_version", 0),
            letter(b"T-2:1:B-1", b"mongo", b"store_rejected", 1),
            letter(b"T-3:1:B-1", b"sql", b"lower_version", 2),  # the other sink's letter
            TopicRecord("trades.dlq", 0, 3, None, b"{}", {}),  # no key, no headers: ignored
        ]
    )
    mongo = StoreCheck(
        "mongo", lost=[("T-1", 1, "B-1"), ("T-2", 1, "B-1"), ("T-3", 1, "B-1"), ("T-4", 1, "B-1")]
    )
    attribute_lost(mongo, reasons)
    assert mongo.lost_dead_lettered == {"lower_version": 1, "store_rejected": 1}
    sql = StoreCheck("sql", lost=[("T-1", 1, "B-1")])
    attribute_lost(sql, reasons)
    assert sql.lost_dead_lettered == {}
