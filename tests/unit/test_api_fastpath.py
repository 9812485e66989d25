"""The ingest fast path is proven equal to the model: whatever it admits, TradePayload + the trade rules
admit too, with the same record bytes; and it really takes the common case."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.errors import TradeRuleViolation
from shared.rules import MaturedPolicy, validate_trade
from shared.schema import TradePayload
from tradedata.fastpath import ENABLED, plain_value
from tradedata.service import Record, accept, kafka_key

TODAY = date(2026, 11, 24)
FIELDS = ("trade_id", "counterparty_id", "book_id", "version", "maturity_date", "created_date", "expired")

plain_ids = st.from_regex(r"[!-~]([ -~]{0,62}[!-~])?", fullmatch=True)
ids = st.one_of(plain_ids, st.text(max_size=70), st.integers(), st.none())
dates_near = st.dates(min_value=TODAY - timedelta(days=800), max_value=TODAY + timedelta(days=800))
iso = st.one_of(
    dates_near.map(date.isoformat),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.text(max_size=12),
    dates_near.map(lambda d: d.strftime("%Y%m%d")),
    st.integers(),
)
versions = st.one_of(
    st.integers(-3, 2**31 + 3), st.booleans(), st.floats(allow_nan=False), st.text(max_size=3)
)
expired = st.one_of(st.booleans(), st.integers(0, 1), st.none(), st.just("false"))
policies = st.sampled_from(list(MaturedPolicy))


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly plausible trades with small defects: wrong types, bad dates, missing or extra keys."""
    data: dict[str, Any] = {
        "trade_id": draw(ids),
        "counterparty_id": draw(ids),
        "book_id": draw(ids),
        "version": draw(versions),
        "maturity_date": draw(iso),
        "created_date": draw(iso),
    }
    if draw(st.booleans()):
        data["expired"] = draw(expired)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=2)):
        data.pop(name, None)
    if draw(st.integers(0, 9)) == 0:
        data["colour"] = "red"
    return data


def model_record(data: object, policy: MaturedPolicy) -> Record | None:
    """What the model path alone makes of `data` (None: refused)."""
    try:
        trade = validate_trade(TradePayload.model_validate(data), TODAY, policy)
    except (ValidationError, TradeRuleViolation):
        return None
    return Record(
        trade.trade_id,
        kafka_key(trade.trade_id, trade.version, trade.book_id),
        orjson.dumps(trade.to_message()),
    )


@settings(max_examples=500, deadline=None)
@given(submissions(), policies)
def test_fast_path_admits_only_what_the_model_admits_with_identical_bytes(
    data: dict[str, Any], policy: MaturedPolicy
) -> None:
    fast = plain_value(data, TODAY, policy)
    expected = model_record(data, policy)
    if fast is not None:
        assert expected is not None, data
        assert fast == expected.value
    result = accept(data, TODAY, policy)
    if expected is None:
        assert not isinstance(result, Record)
    else:
        assert result == expected


@st.composite
def plain_trades(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(st.dates(min_value=TODAY - timedelta(days=400), max_value=TODAY))
    maturity = draw(st.dates(min_value=TODAY, max_value=TODAY + timedelta(days=4000)))
    return {
        "trade_id": draw(plain_ids),
        "counterparty_id": draw(plain_ids),
        "book_id": draw(plain_ids),
        "version": draw(st.integers(1, 2**31 - 1)),
        "maturity_date": maturity.isoformat(),
        "created_date": created.isoformat(),
        "expired": draw(st.booleans()),
    }


@settings(max_examples=300, deadline=None)
@given(plain_trades())
def test_fast_path_takes_every_plainly_valid_trade(data: dict[str, Any]) -> None:
    assert ENABLED
    assert plain_value(data, TODAY, MaturedPolicy.FLAG) is not None
