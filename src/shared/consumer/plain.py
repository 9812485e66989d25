"""The consumer's fast decode: a record that is plainly a valid trade, decoded and checked by msgspec.

`plain_trade` admits a record only when its value is a JSON object of the model's fields and no others,
printable-ASCII ids of 1-64 characters without edge spaces, a strict integer version in range, ISO
`YYYY-MM-DD` calendar dates, a strict boolean `expired` (or none), its key is `trade_id:version:book_id`
and maturity is not before creation. Anything else returns None and takes the general path
(shared.consumer.batch.decode_model: json + the pydantic model), which alone writes dead letters: so the
reasons and details are those of the general path for every input, and for every record admitted here the
trade is the one the general path builds, field for field and fields set for fields set (a property test,
tests/unit/consumers/test_decode_plain.py, as tests/unit/test_api_plainbatch.py does for the API's batch).

Measured (bench/sink_cpu.py): ~2 us a record here against ~7 us through json + the model (whose five
Python validators were most of a draining sink's decode time, issue 14).
"""

from __future__ import annotations

from datetime import date

import msgspec

from shared.plain import Id, Version, plain_ids, plain_strings
from shared.schema import TradePayload, record_key


class PlainTrade(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A record value, strictly typed (msgspec dates are YYYY-MM-DD only); `expired` UNSET when absent."""

    trade_id: Id
    counterparty_id: Id
    book_id: Id
    version: Version
    maturity_date: date
    created_date: date
    expired: bool | msgspec.UnsetType = msgspec.UNSET


FIELDS = PlainTrade.__struct_fields__
SET_WITHOUT_EXPIRED = frozenset(FIELDS[:-1])
# The model is built field by field below: the fast path is on only while the model has exactly these fields.
ENABLED = tuple(TradePayload.model_fields) == FIELDS and FIELDS[-1] == "expired"
_DECODE = msgspec.json.Decoder(PlainTrade)
_new = TradePayload.__new__
_set = object.__setattr__


def plain_trade(key: bytes | None, value: bytes | None, today: date) -> TradePayload | None:
    """The trade of a record that is plainly valid (expired computed from `today`), else None."""
    if not ENABLED or value is None:
        return None
    try:
        p = _DECODE.decode(value)
    except msgspec.DecodeError:  # also msgspec.ValidationError
        return None
    if not (plain_strings(value) or plain_ids(p)):
        return None
    if key != record_key(p.trade_id, p.version, p.book_id) or p.maturity_date < p.created_date:
        return None  # the general path writes the dead letter
    matured = p.maturity_date < today
    # What model_validate and then shared.rules.apply_maturity give: `expired` is in the fields set when
    # it was sent, or when maturity changed it (model_copy(update=...) adds it).
    fields_set = set(SET_WITHOUT_EXPIRED)
    if p.expired is not msgspec.UNSET or matured:
        fields_set.add("expired")
    trade = _new(TradePayload)
    _set(
        trade,
        "__dict__",
        {
            "trade_id": p.trade_id,
            "counterparty_id": p.counterparty_id,
            "book_id": p.book_id,
            "version": p.version,
            "maturity_date": p.maturity_date,
            "created_date": p.created_date,
            "expired": matured,
        },
    )
    _set(trade, "__pydantic_fields_set__", fields_set)
    _set(trade, "__pydantic_extra__", None)
    _set(trade, "__pydantic_private__", None)
    return trade
