"""Trade: the API's input model, TradePayload plus the date rules that need today's date.

Validation context may carry {"today": date} (tests, replay); otherwise the UTC date is used.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import ValidationInfo, model_validator

from shared.rules import date_errors
from shared.schema import TradePayload


def utc_today() -> date:
    """Today's date in UTC: the one clock of TradeStore."""
    return datetime.now(UTC).date()


class Trade(TradePayload):
    """A trade as posted to TradeData: shape rules, then created_date <= today <= ... ordering."""

    @model_validator(mode="after")
    def _dates_are_consistent(self, info: ValidationInfo) -> Trade:
        context = info.context if isinstance(info.context, dict) else {}
        today = context.get("today") or utc_today()
        errors = date_errors(self.created_date, self.maturity_date, today)
        if errors:
            raise ValueError("; ".join(f"{e.loc[0]} {e.msg}" for e in errors))
        return self
