"""The batch fast path (tradedata.plainbatch, msgspec) is proven equal to the general path: for any body,
the same whole-request problem or the same per-item results (record bytes or the model's errors), in the
same order; and a body of plain trades really takes it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.rules import MaturedPolicy
from shared.schema import SAMPLE_TRADE
from shared.settings import Settings
from tradedata import plainbatch
from tradedata.problems import BodyRejected
from tradedata.routes.batch import NDJSON, BadLine, checked_items, parse_items
from tradedata.service import Ingest, Record
from unit.test_api_fastpath import dates_near, submissions

TODAY = date(2026, 11, 24)
LIMIT = 50
plain_ids = st.from_regex(r"[!-~]([ -~]{0,62}[!-~])?", fullmatch=True)


def ingest_for(policy: MaturedPolicy) -> Ingest:
    cfg = Settings(tradestore_env="test", tradestore_matured_policy=policy, tradedata_batch_max_items=LIMIT)
    return Ingest(producer=None, settings=cfg, clock=lambda: TODAY)  # type: ignore[arg-type]  # never publishes


def general(ingest: Ingest, raw: bytes, media: str) -> object:
    """What the general path alone makes of a body: its problem, or each item's record or errors."""
    try:
        items = parse_items(raw, media, LIMIT)
    except BodyRejected as exc:
        return ("problem", exc.status, str(exc))
    return [
        [{"loc": [], "msg": i.detail, "type": "json_invalid"}]
        if isinstance(i, BadLine)
        else ingest.accept(i, TODAY)
        for i in items
    ]


def checked(ingest: Ingest, raw: bytes, media: str) -> object:
    try:
        count, items = checked_items(ingest, raw, media)
    except BodyRejected as exc:
        return ("problem", exc.status, str(exc))
    found = list(items)
    assert count == len(found)
    return found


@st.composite
def plain_trades(draw: st.DrawFn) -> dict[str, Any]:
    """Trades the fast path should admit, though rules (dates, maturity) may still refuse them."""
    trade: dict[str, Any] = {
        "trade_id": draw(plain_ids),
        "counterparty_id": draw(plain_ids),
        "book_id": draw(plain_ids),
        "version": draw(st.integers(1, 2**31 - 1)),
        "maturity_date": draw(dates_near).isoformat(),
        "created_date": draw(dates_near).isoformat(),
    }
    if draw(st.booleans()):
        trade["expired"] = draw(st.booleans())
    return trade


def serialise(items: Any, style: str) -> bytes:
    if style == "compact":  # as orjson and most clients write it (json: integers past 64 bits too)
        return json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode()
    if style == "spaced":
        return json.dumps(items).encode()
    if style == "escaped":  # non-ASCII as \\u escapes
        return json.dumps(items, separators=(",", ":"), ensure_ascii=True).encode()
    return "\n".join(json.dumps(i, separators=(",", ":")) for i in items).encode()  # ndjson


bodies = st.tuples(
    st.lists(st.one_of(plain_trades(), plain_trades(), submissions()), max_size=6),
    st.sampled_from(["compact", "spaced", "escaped", "ndjson"]),
)


@settings(max_examples=250, deadline=None)
@given(bodies, st.sampled_from(list(MaturedPolicy)))
def test_any_batch_gets_the_results_of_the_general_path_item_for_item(
    body: tuple[list[Any], str], policy: MaturedPolicy
) -> None:
    items, style = body
    media = NDJSON if style == "ndjson" else "application/json"
    raw = serialise(items, style)
    ingest = ingest_for(policy)
    assert checked(ingest, raw, media) == general(ingest, raw, media)


@settings(max_examples=100, deadline=None)
@given(st.lists(plain_trades(), min_size=1, max_size=6), st.sampled_from(list(MaturedPolicy)))
def test_a_body_of_plain_trades_takes_the_fast_path_with_the_same_records(
    items: list[dict[str, Any]], policy: MaturedPolicy
) -> None:
    raw = orjson.dumps(items)
    assert plainbatch.plain_trades(raw) is not None
    ingest = ingest_for(policy)
    assert checked(ingest, raw, "application/json") == general(ingest, raw, "application/json")


@settings(max_examples=100, deadline=None)
@given(st.lists(plain_trades(), min_size=1, max_size=4), st.data())
def test_one_doubtful_item_sends_the_whole_body_the_general_way(
    items: list[dict[str, Any]], data: Any
) -> None:
    doubtful = data.draw(
        submissions().filter(lambda d: plainbatch.plain_trades(serialise([d], "compact")) is None)
    )
    raw = serialise([*items, doubtful], "compact")
    assert plainbatch.plain_trades(raw) is None
    ingest = ingest_for(MaturedPolicy.FLAG)
    assert checked(ingest, raw, "application/json") == general(ingest, raw, "application/json")


LIVE = {**SAMPLE_TRADE, "maturity_date": (TODAY + timedelta(days=30)).isoformat()}


@pytest.mark.parametrize(
    "raw",
    [
        b"[" + orjson.dumps(LIVE)[:-1] + b',"trade_id":"T-2"}]',  # a repeated key: the last one counts
        b"[" + orjson.dumps(LIVE).replace(b'"T-1001"', b'"T-\\ud800"') + b"]",  # a lone surrogate
        b"[" + orjson.dumps(LIVE).replace(b'"T-1001"', b'"T-\\u00e9"') + b"]",  # an escaped non-ASCII id
        b"[" + orjson.dumps(LIVE).replace(b'"T-1001"', '"T-\u00e9"'.encode()) + b"]",  # non-ASCII id
        b"[" + orjson.dumps(LIVE).replace(b'"T-1001"', b'"T-\x7f"') + b"]",  # DEL in an id
        b"[" + orjson.dumps(LIVE).replace(b'"T-1001"', b'"T-1001 "') + b"]",  # a trailing space
        b"[" + orjson.dumps(LIVE).replace(b'"T-1001"', b'" T-1001"') + b"]",  # a leading space
        b"[" + orjson.dumps(LIVE).replace(b'"T-1001"', b'"T 1001"') + b"]",  # an inner space: fine
        b"[" + orjson.dumps(LIVE).replace(b'"version":1', b'"version":1.0') + b"]",
        b"[" + orjson.dumps(LIVE).replace(b'"version":1', b'"version":true') + b"]",
        b"[" + orjson.dumps(LIVE).replace(b'"version":1', b'"version":99999999999999999999999') + b"]",
        b"[" + orjson.dumps(LIVE).replace(b'"2025-09-28"', b'"2025-02-30"') + b"]",
        b"[" + orjson.dumps(LIVE).replace(b'"2025-09-28"', b'"2025-09-28T00:00:00"') + b"]",
        b"[" + orjson.dumps({**LIVE, "created_date": "2027-01-01"}) + b"]",  # a date rule broken
        b"[" + orjson.dumps(LIVE) + b"] x",  # trailing garbage: 400
        b"\xef\xbb\xbf[" + orjson.dumps(LIVE) + b"]",  # a byte order mark: 400
        b"[" + orjson.dumps(LIVE) + b",]",
        orjson.dumps(LIVE),  # not an array: 422
        orjson.dumps([LIVE] * (LIMIT + 1)),  # too many items: 413
        b"[]",
        b" [ " + orjson.dumps(LIVE) + b" ] ",
    ],
)
@pytest.mark.parametrize("policy", list(MaturedPolicy))
def test_edge_bodies_get_the_results_of_the_general_path(raw: bytes, policy: MaturedPolicy) -> None:
    ingest = ingest_for(policy)
    assert checked(ingest, raw, "application/json") == general(ingest, raw, "application/json")


def test_a_plain_trade_is_published_as_the_general_path_writes_it_expired_computed() -> None:
    matured = {**LIVE, "maturity_date": "2026-01-15", "expired": False}
    raw = orjson.dumps([LIVE, matured, {**LIVE, "expired": True}])
    assert plainbatch.plain_trades(raw) is not None
    found = checked(ingest_for(MaturedPolicy.FLAG), raw, "application/json")
    assert isinstance(found, list)
    assert all(type(r) is Record for r in found)
    assert [orjson.loads(r.value)["expired"] for r in found] == [False, True, False]
    assert found[0].key == b"T-1001:1:B-1"


# --- POST /trades (tradedata.hotpath): one plain trade in one msgspec call ------------------------------


@settings(max_examples=300, deadline=None)
@given(st.one_of(plain_trades(), submissions()), st.sampled_from(["compact", "spaced", "escaped"]), st.data())
def test_a_single_body_the_fast_path_takes_gets_the_general_paths_record(
    item: dict[str, Any], style: str, data: Any
) -> None:
    policy = data.draw(st.sampled_from(list(MaturedPolicy)))
    raw = serialise(item, style)
    found = plainbatch.plain_record(raw, TODAY, policy)
    if found is not None:
        assert found == ingest_for(policy).accept(orjson.loads(raw), TODAY)


@settings(max_examples=100, deadline=None)
@given(plain_trades(), st.sampled_from(list(MaturedPolicy)))
def test_a_single_plain_trade_breaking_no_rule_takes_the_fast_path(
    item: dict[str, Any], policy: MaturedPolicy
) -> None:
    expected = ingest_for(policy).accept(item, TODAY)
    found = plainbatch.plain_record(orjson.dumps(item), TODAY, policy)
    assert found == (expected if isinstance(expected, Record) else None)


@pytest.mark.parametrize(
    ("created", "maturity", "expired"),
    [
        (TODAY, TODAY, False),  # created today, maturing today: live, not expired
        (TODAY - timedelta(days=3), TODAY - timedelta(days=1), True),  # matured yesterday
        (TODAY - timedelta(days=1), TODAY - timedelta(days=1), True),
    ],
)
def test_the_date_boundaries_take_the_fast_path_with_the_models_expired_flag(
    created: date, maturity: date, expired: bool
) -> None:
    item = {**LIVE, "created_date": created.isoformat(), "maturity_date": maturity.isoformat()}
    raw = orjson.dumps([item])
    found = plainbatch.plain_record(orjson.dumps(item), TODAY, MaturedPolicy.FLAG)
    assert found is not None
    assert orjson.loads(found.value)["expired"] is expired
    assert [found] == checked(ingest_for(MaturedPolicy.FLAG), raw, "application/json")
    assert [found] == general(ingest_for(MaturedPolicy.FLAG), raw, "application/json")
    if expired:  # refused under `reject`, with the model's error
        assert plainbatch.plain_record(orjson.dumps(item), TODAY, MaturedPolicy.REJECT) is None
        refused = checked(ingest_for(MaturedPolicy.REJECT), raw, "application/json")
        assert isinstance(refused, list)
        assert [e["type"] for e in refused[0]] == ["trade_matured"]
