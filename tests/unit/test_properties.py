"""Property tests (hypothesis): the version rule of a batch, expiry, and the mapping to each store."""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import bson
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ports import StoredTrade
from shared.rules import MaturedPolicy, VersionDecision, apply_maturity, plan_batch, validate_trade
from shared.schema import ID_MAX_LENGTH, TradePayload
from shared.stores.mongo_mapping import from_document, to_document
from shared.stores.sql import SqlStore
from shared.stores.sql.engine import make_engine
from shared.stores.sql.mapper import to_row

ACCEPTED = (VersionDecision.INSERT, VersionDecision.OVERRIDE)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

# Identifiers as the schema admits them: no control characters (nor surrogates, which no store or
# JSON text can carry), no leading or trailing whitespace, 1..64 characters.
identifiers = st.text(
    st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=ID_MAX_LENGTH
).filter(lambda s: s == s.strip())
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31))


@st.composite
def trades(draw: st.DrawFn, trade_ids: st.SearchStrategy[str] = identifiers) -> TradePayload:
    created, maturity = sorted([draw(dates), draw(dates)])
    return TradePayload(
        trade_id=draw(trade_ids),
        counterparty_id=draw(identifiers),
        book_id=draw(identifiers),
        version=draw(st.integers(1, 2_147_483_647)),
        maturity_date=maturity,
        created_date=created,
        expired=draw(st.booleans()),
    )


# Batches over few trade ids and small versions, so that ties and lower versions are common.
few_ids = st.sampled_from(list(string.ascii_uppercase[:4]))
small_trades = trades(trade_ids=few_ids).map(lambda t: t.model_copy(update={"version": t.version % 5 + 1}))
batches = st.lists(small_trades, max_size=30)
stored_maxima = st.dictionaries(few_ids, st.integers(1, 5), max_size=4)


@given(batch=batches, stored=stored_maxima)
def test_no_accepted_trade_has_a_version_below_the_running_maximum(
    batch: list[TradePayload], stored: dict[str, int]
) -> None:
    running = dict(stored)
    for planned in plan_batch(((i, t) for i, t in enumerate(batch)), stored):
        current = running.get(planned.trade.trade_id)
        assert planned.stored_max == current
        if planned.decision in ACCEPTED:
            assert current is None or planned.trade.version >= current
            running[planned.trade.trade_id] = planned.trade.version
        else:
            assert current is not None
            assert planned.trade.version < current


@given(batch=batches, stored=stored_maxima)
def test_decisions_are_deterministic_and_leave_the_input_untouched(
    batch: list[TradePayload], stored: dict[str, int]
) -> None:
    before = dict(stored)
    first = plan_batch(((i, t) for i, t in enumerate(batch)), stored)
    second = plan_batch(((i, t) for i, t in enumerate(batch)), stored)
    assert first == second
    assert stored == before
    assert [p.item for p in first] == list(range(len(batch)))


@given(batch=batches, stored=stored_maxima)
def test_replaying_an_applied_batch_never_inserts(batch: list[TradePayload], stored: dict[str, int]) -> None:
    """At-least-once delivery: a batch written then redelivered can only override or be rejected."""
    after = dict(stored)
    for planned in plan_batch(((i, t) for i, t in enumerate(batch)), stored):
        if planned.decision in ACCEPTED:
            after[planned.trade.trade_id] = planned.trade.version
    replay = plan_batch(((i, t) for i, t in enumerate(batch)), after)
    assert all(p.decision is not VersionDecision.INSERT for p in replay)


@given(trade=trades(), today=dates)
def test_expiry_follows_maturity_and_is_idempotent(trade: TradePayload, today: date) -> None:
    once = apply_maturity(trade, today, MaturedPolicy.FLAG)
    assert once.expired is (trade.maturity_date < today)
    assert apply_maturity(once, today, MaturedPolicy.FLAG) == once
    assert once.model_copy(update={"expired": trade.expired}) == trade  # nothing else changes


@given(trade=trades(), today=dates)
def test_validation_is_idempotent_when_it_accepts(trade: TradePayload, today: date) -> None:
    if trade.created_date > today:
        return
    once = validate_trade(trade, today, MaturedPolicy.FLAG)
    assert validate_trade(once, today, MaturedPolicy.FLAG) == once


@given(trade=trades(), partition=st.integers(0, 1000), offset=st.integers(0, 2**62))
def test_trade_survives_the_mongo_document_and_bson_round_trip(
    trade: TradePayload, partition: int, offset: int
) -> None:
    document = to_document(StoredTrade(trade, partition, offset, NOW))
    decoded = bson.decode(bson.encode(document), codec_options=bson.CodecOptions(tz_aware=True))
    assert from_document(decoded) == trade
    assert (decoded["partition"], decoded["offset"], decoded["persisted_at"]) == (partition, offset, NOW)


@given(trade=trades())
def test_trade_survives_the_sql_row_mapping(trade: TradePayload) -> None:
    row = to_row(StoredTrade(trade, 3, 7, NOW))
    assert TradePayload.model_validate({name: row[name] for name in TradePayload.model_fields}) == trade  # type: ignore[literal-required]
    assert (row["kafka_partition"], row["kafka_offset"], row["persisted_at"]) == (3, 7, NOW)


@pytest.fixture(scope="module")
def sqlite_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    path = Path(tmp_path_factory.mktemp("sql")) / "trades.db"
    sink = SqlStore(make_engine(f"sqlite:///{path}"))
    sink.setup()
    try:
        yield sink
    finally:
        sink.close()


@settings(max_examples=50)
@given(trade=trades())
def test_trade_survives_a_write_and_read_through_the_sql_store(
    sqlite_sink: SqlStore, trade: TradePayload
) -> None:
    """TradePayload -> row -> SQLite -> SqlStore -> TradePayload, through the real sink and reader."""
    with sqlite_sink.engine.begin() as conn:
        conn.execute(sa.delete(sqlite_sink.table))
    sqlite_sink.write([StoredTrade(trade, 0, 0, NOW)])
    assert list(sqlite_sink.iter_trades()) == [trade]
