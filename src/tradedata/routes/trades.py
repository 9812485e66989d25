"""POST /trades: validate one trade, publish it, answer 201 only once the broker acknowledged it.

A batch of one through the ingest service (tradedata.service): the same checks, key and publishing as
POST /trades/batch.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.errors import PublishUnavailable
from shared.schema import SAMPLE_TRADE, TradePayload
from tradedata.auth import principal_of
from tradedata.body import read_json_body
from tradedata.context import IngestDep
from tradedata.problems import TradeRejected, problem_responses
from tradedata.responses import AcceptedTrade
from tradedata.service import Record

router = APIRouter(tags=["trades"])

TRADE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": TradePayload.model_json_schema(),
            "examples": {"sample": {"summary": "The seed's sample trade", "value": SAMPLE_TRADE}},
        }
    },
}
LOCATION = {"Location": {"required": True, "schema": {"type": "string"}}}


def accepted_body(record: Record, topic: str, partition: int, offset: int) -> bytes:
    """The published value with where it was stored: the value's own bytes, extended (no re-encoding)."""
    where = orjson.dumps({"topic": topic, "partition": partition, "offset": offset})
    return record.value[:-1] + b"," + where[1:]


def summary(errors: list[dict[str, object]]) -> str:
    """`loc: msg; ...` of field errors, for the problem's detail."""
    parts = []
    for error in errors:
        loc = error["loc"]
        where = ".".join(map(str, loc)) if isinstance(loc, list) else str(loc)
        parts.append(f"{where or 'body'}: {error['msg']}")
    return "; ".join(parts)


@router.post(
    "/trades",
    status_code=201,
    response_model=AcceptedTrade,
    summary="Validate a trade and publish it to Kafka",
    description="201 means the broker acknowledged the record (acks=all): the trade is durably queued for "
    "both stores, which apply the version rule.",
    openapi_extra={"requestBody": TRADE_BODY},
    responses={201: {"headers": LOCATION}, **problem_responses(400, 413, 415, 422, 503)},
)
async def post_trade(request: Request, ingest: IngestDep) -> Response:
    data = await read_json_body(request, ingest.settings.tradedata_max_body_bytes)
    if not isinstance(data, dict):
        raise TradeRejected("the body must be a JSON object (one trade)")
    checked = ingest.accept(data, ingest.clock())
    if not isinstance(checked, Record):
        raise TradeRejected(f"the trade has invalid fields: {summary(checked)}", errors=checked)
    outcome = (await ingest.publish([(0, checked)], principal_of(request).id))[0]
    if outcome.status != "accepted":
        raise PublishUnavailable(outcome.reason)
    return Response(
        accepted_body(checked, ingest.topic, outcome.partition, outcome.offset),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/trades/{quote(checked.trade_id, safe='')}"},  # headers are latin-1
    )
