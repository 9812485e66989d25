"""OpenAPI of the asynchronous contract: what 201, 202 and 409 mean on POST /trades with `Prefer: wait`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.outcomes import LOWER_VERSION_TYPE
from tradedata.responses import AcceptedTrade

ASYNC_CONTRACT = (
    "201 Created means the Kafka broker holds the trade (acks=all), not yet that the stores accepted it: the "
    "stores apply the version rule afterwards. To learn their verdict, send `Prefer: wait=N` (RFC 7240, N "
    "seconds, capped by TRADEDATA_PREFER_WAIT_MAX_S) and get 201 once every store holds it, 409 when they "
    "refused it (for example a higher version is already stored), or 202 with the `Location` of its status "
    "when no verdict came within N seconds; or ask GET /trades/{trade_id}/status?version=V&book_id=B later."
)


class PendingTrade(AcceptedTrade):
    """202 to `Prefer: wait=N`: the broker holds the trade, the stores have not decided within N seconds."""

    state: Literal["pending"]
    status: str = Field(description="the status URL (also the Location header)")


class RefusedByStores(BaseModel):
    """409 to `Prefer: wait=N` (problem+json): the stores refused the record; `type` says why."""

    type: str = Field(examples=[LOWER_VERSION_TYPE])
    title: str
    status: Literal[409]
    detail: str = Field(description="names the highest stored version when the version rule refused it")
    reason: str = Field(description="the dead-letter reason: lower_version, store_rejected, ...")
    stored_version: int | None
    trade_id: str
    version: int
    book_id: str
    partition: int
    offset: int
    sinks: dict[str, dict[str, str | None]]
    status_url: str


PREFER_PARAMETER: dict[str, Any] = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "`wait=N`: wait up to N seconds for the stores' verdict (see the operation's description)",
    "schema": {"type": "string"},  # preferences the API does not know are ignored (RFC 7240)
    "examples": {"wait": {"value": "wait=5"}},
}
APPLIED = {
    "Preference-Applied": {
        "description": "wait=N when the preference was honoured",
        "schema": {"type": "string"},
    }
}
LOCATION = {"Location": {"required": True, "schema": {"type": "string"}}}

PREFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": PendingTrade,
        "description": "No verdict within N seconds",
        "headers": {**LOCATION, **APPLIED},
    },
    409: {
        "model": RefusedByStores,
        "description": "The stores refused the record (Prefer: wait only)",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/RefusedByStores"}}},
        "headers": APPLIED,
    },
}
