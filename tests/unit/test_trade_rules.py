"""Clock-dependent rules (dates, expiry policy) and the version rule, with the clock passed in."""

from __future__ import annotations

from datetime import date

import pytest

from shared.errors import TradeRuleViolation
from shared.rules import (
    MaturedPolicy,
    VersionDecision,
    apply_maturity,
    date_errors,
    decide_version,
    is_matured,
    plan_batch,
    validate_trade,
)
from shared.schema import SAMPLE_TRADE, TradePayload
from tradedata.models import Trade
from tradedata.service import accept_trade

TODAY = date(2026, 11, 24)


def trade(**changes: object) -> TradePayload:
    return TradePayload.model_validate({**SAMPLE_TRADE, **changes})


def test_created_date_today_is_allowed_but_tomorrow_is_not() -> None:
    assert date_errors(TODAY, TODAY, TODAY) == []
    (error,) = date_errors(date(2026, 11, 25), date(2027, 1, 1), TODAY)
    assert error.loc == ("created_date",)
    assert error.type == "date_in_future"


def test_maturity_before_created_is_refused() -> None:
    (error,) = date_errors(date(2026, 1, 10), date(2026, 1, 9), TODAY)
    assert error.loc == ("maturity_date",)
    assert error.type == "maturity_before_created"


def test_both_date_errors_are_reported_together() -> None:
    errors = date_errors(date(2027, 1, 10), date(2027, 1, 9), TODAY)
    assert [e.type for e in errors] == ["date_in_future", "maturity_before_created"]


def test_maturity_yesterday_is_matured_today_is_not() -> None:
    assert is_matured(date(2026, 11, 23), TODAY)
    assert not is_matured(TODAY, TODAY)


def test_matured_trade_is_flagged_expired_whatever_the_client_sent() -> None:
    accepted = apply_maturity(trade(expired=False), TODAY, MaturedPolicy.FLAG)
    assert accepted.expired is True


def test_live_trade_is_never_expired_even_if_client_says_so() -> None:
    accepted = apply_maturity(trade(maturity_date="2027-01-01", expired=True), TODAY, MaturedPolicy.FLAG)
    assert accepted.expired is False


def test_trade_already_correct_is_returned_unchanged() -> None:
    original = trade(maturity_date="2027-01-01")
    assert apply_maturity(original, TODAY, MaturedPolicy.FLAG) is original


MATURED_MSG = (
    "trade matured on 2026-01-15, before today (2026-11-24); "
    "matured trades are refused (TRADESTORE_MATURED_POLICY=reject)"
)


def test_reject_policy_refuses_matured_trade_with_field_error() -> None:
    """The one error names the field, the dates and the setting that refused it (the client's 422)."""
    with pytest.raises(TradeRuleViolation) as info:
        apply_maturity(trade(), TODAY, MaturedPolicy.REJECT)
    assert [e.as_dict() for e in info.value.errors] == [
        {"loc": ["maturity_date"], "msg": MATURED_MSG, "type": "trade_matured"}
    ]
    assert str(info.value) == f"maturity_date: {MATURED_MSG}"


def test_reject_policy_accepts_live_trade() -> None:
    assert accept_trade(trade(maturity_date="2027-01-01"), TODAY, MaturedPolicy.REJECT).expired is False


def test_accept_trade_applies_the_policy_it_is_given() -> None:
    """The same matured trade: flagged expired under `flag`, refused under `reject`."""
    assert accept_trade(trade(), TODAY, MaturedPolicy.FLAG).expired is True
    with pytest.raises(TradeRuleViolation) as info:
        accept_trade(trade(), TODAY, MaturedPolicy.REJECT)
    assert [e.type for e in info.value.errors] == ["trade_matured"]


def test_validate_trade_reports_date_errors_before_maturity() -> None:
    with pytest.raises(TradeRuleViolation) as info:
        validate_trade(
            trade(created_date="2026-12-01", maturity_date="2026-12-02"), TODAY, MaturedPolicy.REJECT
        )
    assert [e.type for e in info.value.errors] == ["date_in_future"]


def test_api_model_takes_today_from_validation_context() -> None:
    data = {**SAMPLE_TRADE, "created_date": "2026-11-25", "maturity_date": "2026-12-01"}
    assert Trade.model_validate(data, context={"today": date(2026, 11, 25)}).created_date == date(
        2026, 11, 25
    )
    with pytest.raises(ValueError, match="created_date must not be in the future"):
        Trade.model_validate(data, context={"today": TODAY})


@pytest.mark.parametrize(
    ("version", "stored_max", "decision"),
    [
        (1, None, VersionDecision.INSERT),
        (3, 2, VersionDecision.INSERT),
        (2, 2, VersionDecision.OVERRIDE),
        (1, 2, VersionDecision.REJECT_LOWER_VERSION),
    ],
)
def test_version_rule(version: int, stored_max: int | None, decision: VersionDecision) -> None:
    assert decide_version(version, stored_max) is decision


def test_plan_batch_applies_rule_in_order_within_the_batch() -> None:
    batch = [
        ("a", trade(trade_id="T-1", version=1)),
        ("b", trade(trade_id="T-1", version=3)),
        ("c", trade(trade_id="T-1", version=2)),  # lower than v3 earlier in the same batch
        ("d", trade(trade_id="T-1", version=3, counterparty_id="CP-2")),  # same key as b: override
        ("e", trade(trade_id="T-2", version=1)),  # lower than stored max 4
        ("f", trade(trade_id="T-3", version=1)),
    ]
    planned = plan_batch(batch, {"T-2": 4})
    assert [(p.item, p.decision, p.stored_max) for p in planned] == [
        ("a", VersionDecision.INSERT, None),
        ("b", VersionDecision.INSERT, 1),
        ("c", VersionDecision.REJECT_LOWER_VERSION, 3),
        ("d", VersionDecision.OVERRIDE, 3),
        ("e", VersionDecision.REJECT_LOWER_VERSION, 4),
        ("f", VersionDecision.INSERT, None),
    ]


def test_stale_copy_of_a_stored_key_is_rejected_once_a_higher_version_exists() -> None:
    (planned,) = plan_batch([("x", trade(version=1))], {"T-1001": 2})
    assert planned.decision is VersionDecision.REJECT_LOWER_VERSION
