"""What the two msgspec fast paths (the API's batch, tradedata.plainbatch; the sinks' decode,
shared.consumer.plain) call a plain trade: the strict field types and the two checks on its strings.

Each fast path admits only what these allow and hands anything else to the pydantic model, so both say
"plain" the same way; each is property-tested equal to the model's result.
"""

from __future__ import annotations

from typing import Annotated, Protocol

import msgspec

from shared.schema import ID_MAX_LENGTH

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX_LENGTH)]
Version = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]


class HasIds(Protocol):
    trade_id: str
    counterparty_id: str
    book_id: str


def plain_strings(raw: bytes) -> bool:
    """True when no string of the (valid JSON) text can hold anything but printable ASCII, nor start or
    end with a space: ASCII without escapes (backslashes), DEL (JSON refuses raw control characters) or
    spaces (compact JSON as clients and producers write it; text with spaces has its ids checked one by
    one)."""
    return raw.isascii() and b"\\" not in raw and b"\x7f" not in raw and b" " not in raw


def plain_ids(trade: HasIds) -> bool:
    """True when every id is printable ASCII without an edge space (what the model accepts unchanged)."""
    for value in (trade.trade_id, trade.counterparty_id, trade.book_id):
        if not (value.isascii() and value.isprintable() and value[0] != " " and value[-1] != " "):
            return False
    return True
