"""TradePayload: the one message shape that TradeData produces and both consumers read.

Shape rules live here (types, lengths, characters, ISO dates); rules that need a clock
(created_date <= today, expiry) live in :mod:`shared.rules` with the clock passed in.
Identifiers with surrounding whitespace are *refused*, not trimmed: a silently trimmed id
would change the business key the client thinks it sent.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

ID_MAX_LENGTH = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def record_key(trade_id: str, version: object, book_id: str) -> bytes:
    """The Kafka record key of a trade, `trade_id:version:book_id` (UTF-8): the one place it is built."""
    return f"{trade_id}:{version}:{book_id}".encode()


def _check_identifier(value: str) -> str:
    if value != value.strip():
        raise ValueError("must not start or end with whitespace")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _parse_iso_date(value: Any) -> Any:
    """Accept only `YYYY-MM-DD` strings (or date objects): no timestamps, no datetimes, no other formats."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be an ISO date string YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real calendar date") from None


Identifier = Annotated[
    str,
    Field(min_length=1, max_length=ID_MAX_LENGTH, strict=True),
    AfterValidator(_check_identifier),
]
IsoDate = Annotated[date, BeforeValidator(_parse_iso_date)]

SAMPLE_TRADE: dict[str, Any] = {
    "trade_id": "T-1001",
    "counterparty_id": "CP-1",
    "book_id": "B-1",
    "version": 1,
    "maturity_date": "2026-01-15",
    "created_date": "2025-09-28",
    "expired": False,
}


class TradePayload(BaseModel):
    """A trade as it travels on the `trades` topic. Unknown fields are refused, never dropped."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [SAMPLE_TRADE]},
    )

    trade_id: Identifier = Field(description="Business identifier of the trade")
    counterparty_id: Identifier = Field(description="Counterparty the trade is with")
    book_id: Identifier = Field(description="Book the trade is booked in")
    version: StrictInt = Field(ge=1, le=2_147_483_647, description="Trade version, integer >= 1")
    maturity_date: IsoDate = Field(description="Maturity date, ISO YYYY-MM-DD, >= created_date")
    created_date: IsoDate = Field(description="Creation date, ISO YYYY-MM-DD, not in the future")
    expired: StrictBool = Field(
        default=False,
        description="True once maturity_date is before today; computed by TradeData whatever the client sent",
    )

    @property
    def key(self) -> tuple[str, int, str]:
        """The business key (trade_id, version, book_id): unique in every store."""
        return (self.trade_id, self.version, self.book_id)

    def kafka_key(self) -> bytes:
        """The Kafka record key `trade_id:version:book_id` (UTF-8)."""
        return record_key(self.trade_id, self.version, self.book_id)

    def to_message(self) -> dict[str, Any]:
        """The JSON-ready dict that is the Kafka record value."""
        return self.model_dump(mode="json")


def trade_json_schema() -> dict[str, Any]:
    """The JSON Schema of TradePayload, as committed under contracts/."""
    return TradePayload.model_json_schema()
