"""TradePayload shape rules: identifiers, version, ISO dates, expired, unknown fields."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from shared.schema import SAMPLE_TRADE, TradePayload


def payload(**changes: Any) -> dict[str, Any]:
    return {**SAMPLE_TRADE, **changes}


def error_types(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        TradePayload.model_validate(data)
    return {".".join(map(str, e["loc"])): e["type"] for e in info.value.errors()}


def test_sample_trade_is_valid_and_parses_dates() -> None:
    trade = TradePayload.model_validate(SAMPLE_TRADE)
    assert trade.maturity_date == date(2026, 1, 15)
    assert trade.key == ("T-1001", 1, "B-1")
    assert trade.kafka_key() == b"T-1001:1:B-1"
    assert trade.to_message() == SAMPLE_TRADE


@pytest.mark.parametrize("field", ["trade_id", "counterparty_id", "book_id"])
@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("", "string_too_short"),
        (" T-1", "value_error"),
        ("T-1 ", "value_error"),
        ("T\x001", "value_error"),
        ("T\n1", "value_error"),
        ("T\x7f", "value_error"),
        ("x" * 65, "string_too_long"),
        (123, "string_type"),
        (None, "string_type"),
    ],
)
def test_identifiers_refuse_empty_padded_control_and_long_values(field: str, value: Any, kind: str) -> None:
    assert error_types(payload(**{field: value})) == {field: kind}


def test_identifier_of_64_characters_is_accepted() -> None:
    assert TradePayload.model_validate(payload(trade_id="x" * 64)).trade_id == "x" * 64


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (0, "greater_than_equal"),
        (-1, "greater_than_equal"),
        (True, "int_type"),
        (1.0, "int_type"),
        ("1", "int_type"),
    ],
)
def test_version_must_be_a_positive_integer(value: Any, kind: str) -> None:
    assert error_types(payload(version=value)) == {"version": kind}


@pytest.mark.parametrize(
    "value",
    ["2026-02-30", "2026-13-01", "26-01-15", "2026/01/15", "2026-01-15T00:00:00", "20260115", 20260115, ""],
)
def test_dates_must_be_real_iso_calendar_dates(value: Any) -> None:
    assert error_types(payload(maturity_date=value)) == {"maturity_date": "value_error"}


def test_leap_day_is_a_real_date() -> None:
    assert TradePayload.model_validate(payload(maturity_date="2028-02-29")).maturity_date == date(2028, 2, 29)


@pytest.mark.parametrize("value", ["true", 1, 0, None])
def test_expired_must_be_a_boolean(value: Any) -> None:
    assert error_types(payload(expired=value)) == {"expired": "bool_type"}


def test_expired_defaults_to_false_when_omitted() -> None:
    data = payload()
    del data["expired"]
    assert TradePayload.model_validate(data).expired is False


def test_unknown_field_is_refused_not_dropped() -> None:
    assert error_types(payload(maturity="2026-01-01")) == {"maturity": "extra_forbidden"}


def test_every_missing_field_is_reported() -> None:
    assert set(error_types({})) == {
        "trade_id",
        "counterparty_id",
        "book_id",
        "version",
        "maturity_date",
        "created_date",
    }
