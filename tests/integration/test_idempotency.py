"""Duplicates and the version rule end to end: one document, one row, no primary-key error, no regression."""

from __future__ import annotations

from fixtures.consumers import by_key, expected_store, make_trade
from fixtures.pipeline import Pipeline, poll


def test_duplicate_repost_gives_one_document_and_one_row(pipeline: Pipeline, prefix: str) -> None:
    trade = make_trade(f"{prefix}D-1")
    for _ in range(3):
        assert pipeline.post(trade)[0] == 201
    assert len(pipeline.topic_records(prefix, count=3)) == 3  # three deliveries ...
    mongo, sql = pipeline.wait_stored(prefix, 1)  # ... one record in each store
    assert by_key(mongo) == by_key(sql) == expected_store(trade, trade, trade)
    assert pipeline.dead_letters(prefix) == []  # no primary-key error, nothing refused


def test_same_key_with_another_counterparty_overrides_in_both_stores(pipeline: Pipeline, prefix: str) -> None:
    trade_id = f"{prefix}O-1"
    assert pipeline.post(make_trade(trade_id, counterparty_id="CP-OLD"))[0] == 201
    pipeline.wait_stored(prefix, 1)
    assert pipeline.post(make_trade(trade_id, counterparty_id="CP-NEW"))[0] == 201
    mongo, sql = poll(
        lambda: pipeline.stored(prefix),
        lambda s: (
            [t.counterparty_id for t in s[0]] == ["CP-NEW"]
            and [t.counterparty_id for t in s[1]] == ["CP-NEW"]
        ),
    )
    want = expected_store(
        make_trade(trade_id, counterparty_id="CP-OLD"), make_trade(trade_id, counterparty_id="CP-NEW")
    )
    assert by_key(mongo) == by_key(sql) == want


def test_lower_version_is_rejected_to_the_dead_letter_topic_and_stores_unchanged(
    pipeline: Pipeline, prefix: str
) -> None:
    trade_id = f"{prefix}V-1"
    assert pipeline.post(make_trade(trade_id, version=1))[0] == 201
    assert pipeline.post(make_trade(trade_id, version=2))[0] == 201
    pipeline.wait_stored(prefix, 2)
    # a stale copy of version 1 (that exact key is stored) and a new lower version for another book
    assert pipeline.post(make_trade(trade_id, version=1, counterparty_id="CP-LATE"))[0] == 201
    assert pipeline.post(make_trade(trade_id, version=1, book_id="B-OTHER"))[0] == 201

    letters = poll(lambda: pipeline.dead_letters(prefix), lambda d: len(d) == 4)
    assert sorted(r.headers["dlq.sink"] for r in letters) == [b"mongo", b"mongo", b"sql", b"sql"]
    assert {r.headers["dlq.reason"] for r in letters} == {b"lower_version"}
    mongo, sql = pipeline.stored(prefix)
    assert [(t.version, t.book_id, t.counterparty_id) for t in mongo] == [
        (1, "B-1", "CP-1"),
        (2, "B-1", "CP-1"),
    ]
    want = expected_store(
        make_trade(trade_id, version=1),
        make_trade(trade_id, version=2),
        make_trade(trade_id, version=1, counterparty_id="CP-LATE"),
        make_trade(trade_id, version=1, book_id="B-OTHER"),
    )
    assert by_key(mongo) == by_key(sql) == want


def test_higher_version_is_stored_as_a_new_record(pipeline: Pipeline, prefix: str) -> None:
    trade_id = f"{prefix}H-1"
    for version in (1, 3, 3):
        assert pipeline.post(make_trade(trade_id, version=version))[0] == 201
    mongo, sql = pipeline.wait_stored(prefix, 2)
    want = expected_store(*(make_trade(trade_id, version=v) for v in (1, 3, 3)))
    assert [t.version for t in want] == [1, 3]
    assert by_key(mongo) == by_key(sql) == want
