"""The consumer's fast decode (shared.consumer.plain, msgspec) is proven equal to the general path
(shared.consumer.batch.decode_model: json + the pydantic model): for any record, `decode` gives the same
dead letter (reason and detail) or the same trade, fields set included; and a plain record really takes it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.consumer.batch import DeadLetter, Inbound, Reason, decode, decode_batch, decode_model
from shared.consumer.plain import ENABLED, plain_trade
from shared.schema import SAMPLE_TRADE, TradePayload
from unit.test_api_fastpath import dates_near, submissions
from unit.test_api_plainbatch import plain_trades

TODAY = date(2026, 11, 24)
LIVE = {**SAMPLE_TRADE, "maturity_date": (TODAY + timedelta(days=30)).isoformat()}


def key_of(item: Any) -> bytes:
    if isinstance(item, dict):
        return f"{item.get('trade_id')}:{item.get('version')}:{item.get('book_id')}".encode()
    return b"T-1001:1:B-1"


def same(found: TradePayload | DeadLetter, expected: TradePayload | DeadLetter) -> None:
    """The same dead letter, or the same trade down to pydantic's bookkeeping (fields set, extra, private)."""
    assert found == expected
    if isinstance(expected, TradePayload):
        assert isinstance(found, TradePayload)
        assert found.__dict__ == expected.__dict__
        assert found.model_fields_set == expected.model_fields_set
        assert (found.__pydantic_extra__, found.__pydantic_private__) == (None, None)
        assert (expected.__pydantic_extra__, expected.__pydantic_private__) == (None, None)
        assert found.to_message() == expected.to_message()


def serialise(item: Any, style: str) -> bytes:
    if style == "compact":  # as orjson and most producers write it
        return json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
    if style == "spaced":
        return json.dumps(item).encode()
    return json.dumps(item, separators=(",", ":"), ensure_ascii=True).encode()  # non-ASCII as \\u escapes


keys = st.one_of(st.none(), st.binary(max_size=12), st.just(b"T-1001:1:B-1"))


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(plain_trades(), plain_trades(), submissions()),
    st.sampled_from(["compact", "spaced", "escaped"]),
    st.data(),
)
def test_any_record_decodes_to_what_the_general_path_gives(item: Any, style: str, data: Any) -> None:
    value = serialise(item, style)
    key = key_of(item) if data.draw(st.integers(0, 4)) else data.draw(keys)
    today = data.draw(st.one_of(st.just(TODAY), dates_near))
    record = Inbound("trades", 0, 7, key, value)
    same(decode(record, today), decode_model(record, today))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60) | st.text(max_size=30).map(str.encode), keys)
def test_any_bytes_decode_to_what_the_general_path_gives(value: bytes, key: bytes | None) -> None:
    record = Inbound("trades", 0, 7, key, value)
    same(decode(record, TODAY), decode_model(record, TODAY))


@settings(max_examples=200, deadline=None)
@given(plain_trades(), st.sampled_from(["compact", "spaced", "escaped"]), dates_near)
def test_a_plain_record_breaking_no_rule_takes_the_fast_path(item: Any, style: str, today: date) -> None:
    value = serialise(item, style)
    expected = decode_model(Inbound("trades", 0, 7, key_of(item), value), today)
    found = plain_trade(key_of(item), value, today)
    if isinstance(expected, DeadLetter):  # a date rule broken: the general path writes the letter
        assert found is None
        assert expected.reason is Reason.RULE_VIOLATION
    else:
        assert found is not None
        same(found, expected)


def mutated(change: dict[str, Any] | None = None, drop: str = "") -> bytes:
    item = {**LIVE, **(change or {})}
    item.pop(drop, None)
    return orjson.dumps(item)


PLAIN = orjson.dumps(LIVE)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"T-1001:1:B-1", PLAIN[:-1] + b',"trade_id":"T-2"}'),  # a repeated key: the last one counts
        (b"T-2:1:B-1", PLAIN[:-1] + b',"trade_id":"T-2"}'),
        (b"T-\xed\xa0\x80:1:B-1", PLAIN.replace(b'"T-1001"', b'"T-\\ud800"')),  # a lone surrogate
        (b"T-\xc3\xa9:1:B-1", PLAIN.replace(b'"T-1001"', b'"T-\\u00e9"')),  # an escaped non-ASCII id
        ("T-\u00e9:1:B-1".encode(), PLAIN.replace(b'"T-1001"', '"T-\u00e9"'.encode())),  # non-ASCII id
        (b"T-1001:1:B-1", PLAIN.replace(b'"T-1001"', b'"T-1001\\u0000"')),  # an escaped control character
        (b"T-\x7f:1:B-1", PLAIN.replace(b'"T-1001"', b'"T-\x7f"')),  # DEL in an id
        (b"T-1001 :1:B-1", PLAIN.replace(b'"T-1001"', b'"T-1001 "')),  # a trailing space
        (b" T-1001:1:B-1", PLAIN.replace(b'"T-1001"', b'" T-1001"')),  # a leading space
        (b"T 1001:1:B-1", PLAIN.replace(b'"T-1001"', b'"T 1001"')),  # an inner space: fine
        (b"T-1001:1:B-1", PLAIN.replace(b'"T-1001"', b'""')),  # an empty id
        (b"T-1001:1:B-1", PLAIN.replace(b'"T-1001"', b'"' + b"x" * 65 + b'"')),  # too long
        (b"T-1001:1:B-1", PLAIN.replace(b'"version":1', b'"version":1.0')),
        (b"T-1001:1:B-1", PLAIN.replace(b'"version":1', b'"version":true')),
        (b"T-1001:1:B-1", PLAIN.replace(b'"version":1', b'"version":0')),
        (b"T-1001:1:B-1", PLAIN.replace(b'"version":1', b'"version":99999999999999999999999')),
        (b"T-1001:1:B-1", PLAIN.replace(b'"2025-09-28"', b'"2025-02-30"')),
        (b"T-1001:1:B-1", PLAIN.replace(b'"2025-09-28"', b'"2025-09-28T00:00:00"')),
        (b"T-1001:1:B-1", PLAIN.replace(b'"2025-09-28"', b'"\xef\xbc\x92025-09-28"')),  # a fullwidth digit
        (b"T-1001:1:B-1", mutated({"created_date": "2027-01-01"})),  # in the future: TradeData's call
        (b"T-1001:1:B-1", mutated({"created_date": "2027-12-30"})),  # after maturity: a rule violation
        (b"T-1001:1:B-1", mutated({"expired": None})),
        (b"T-1001:1:B-1", mutated({"expired": 0})),
        (b"T-1001:1:B-1", mutated({"colour": "red"})),
        (b"T-1001:1:B-1", mutated(drop="book_id")),
        (b"T-1001:1:B-1", mutated(drop="expired")),
        (b"T-1001:1:B-1", mutated({"maturity_date": "2020-01-01", "created_date": "2019-01-01"})),
        (b"T-1001:2:B-1", PLAIN),  # a key that is not the value's
        (None, PLAIN),
        (b"T-1001:1:B-1", None),
        (b"T-1001:1:B-1", PLAIN + b" x"),  # trailing garbage
        (b"T-1001:1:B-1", b"\xef\xbb\xbf" + PLAIN),  # a byte order mark
        (b"T-1001:1:B-1", b" " + PLAIN + b" \n"),
        (b"T-1001:1:B-1", orjson.dumps([LIVE])),
        (b"T-1001:1:B-1", b"{}"),
        (b"T-1001:1:B-1", b""),
    ],
)
@pytest.mark.parametrize("today", [TODAY, date(2020, 6, 1), date(2030, 1, 1)])
def test_edge_records_decode_to_what_the_general_path_gives(
    key: bytes | None, value: bytes | None, today: date
) -> None:
    record = Inbound("trades", 3, 9, key, value)
    same(decode(record, today), decode_model(record, today))


def test_the_fast_path_is_on_and_gives_the_trade_with_expired_computed() -> None:
    assert ENABLED
    matured = {**LIVE, "maturity_date": "2026-01-15", "expired": False}
    for item, expired, fields in [
        (LIVE, False, 7),  # sent: in the fields set
        ({k: v for k, v in LIVE.items() if k != "expired"}, False, 6),  # absent and unchanged: not set
        ({k: v for k, v in matured.items() if k != "expired"}, True, 7),  # absent, set by maturity
        (matured, True, 7),
        ({**LIVE, "expired": True}, False, 7),  # the client's word is replaced by the clock's
    ]:
        trade = plain_trade(key_of(item), orjson.dumps(item), TODAY)
        assert trade is not None
        assert trade.expired is expired
        assert len(trade.model_fields_set) == fields
        assert trade.key == ("T-1001", 1, "B-1")


def test_a_batch_keeps_offset_order_across_both_paths() -> None:
    records = [
        Inbound("trades", 0, 1, b"T-1001:1:B-1", PLAIN),
        Inbound("trades", 0, 2, b"T-1001:1:B-1", b"{nope"),
        Inbound("trades", 0, 3, b"T-1001:1:B-1", b" " + PLAIN),  # spaced: ids checked one by one
        Inbound("trades", 0, 4, b"T-1001:1:B-1", mutated({"version": 2})),  # key mismatch
    ]
    decoded = decode_batch(records, TODAY)
    assert [r.offset for r, _ in decoded.trades] == [1, 3]
    assert [(d.record.offset, d.reason) for d in decoded.dead] == [
        (2, Reason.UNDECODABLE),
        (4, Reason.KEY_MISMATCH),
    ]
