"""The consumer's JSON fast path (shared.consumer.batch.parse: orjson, falling back to json) is proven
equal to json.loads: the same value for every input json accepts, the same error (so the same dead
letter) for every input it refuses."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.consumer.batch import DeadLetter, Inbound, Reason, decode, parse
from shared.schema import SAMPLE_TRADE

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def outcome(function: object, value: bytes) -> tuple[str, object]:
    try:
        return ("value", function(value))  # type: ignore[operator]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return (type(exc).__name__, str(exc))


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_every_json_document_parses_to_what_json_loads_gives(doc: object) -> None:
    for text in (json.dumps(doc), json.dumps(doc, ensure_ascii=False), json.dumps(doc, indent=1)):
        value = text.encode()
        assert outcome(parse, value) == outcome(json.loads, value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.text(max_size=20).map(str.encode))
def test_any_bytes_give_the_same_value_or_the_same_error_as_json_loads(value: bytes) -> None:
    assert outcome(parse, value) == outcome(json.loads, value)


@pytest.mark.parametrize(
    "value",
    [
        b"NaN",
        b'{"a": Infinity}',
        b"1" * 40,
        b'{"version": 1' + b"0" * 30 + b"}",
        b'{"a": 1, "a": "2"}',
        b'{"a": "\\ud800"}',
        b'{"a": 1.0}',
        b'{"a": [1]}',
        b'{"a": {"b": 1}}',
        '{"a": 1}'.encode("utf-16"),
        b"\xef\xbb\xbf{}",
        b"",
        b"[1,]",
    ],
)
def test_what_orjson_refuses_and_json_decides_is_decided_by_json(value: bytes) -> None:
    assert outcome(parse, value) == outcome(json.loads, value)


def test_an_undecodable_record_is_dead_lettered_with_json_s_words() -> None:
    record = Inbound("trades", 0, 1, b"T-1:1:B-1", b"{nope")
    letter = decode(record, date(2026, 11, 30))
    assert isinstance(letter, DeadLetter)
    assert letter.reason is Reason.UNDECODABLE
    assert (
        letter.detail
        == "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


def test_a_valid_record_decodes_through_the_fast_path() -> None:
    key = f"{SAMPLE_TRADE['trade_id']}:{SAMPLE_TRADE['version']}:{SAMPLE_TRADE['book_id']}".encode()
    trade = decode(Inbound("trades", 0, 1, key, json.dumps(SAMPLE_TRADE).encode()), date(2025, 10, 1))
    assert not isinstance(trade, DeadLetter)
    assert trade.trade_id == SAMPLE_TRADE["trade_id"]
