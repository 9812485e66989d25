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
from tradedata.outcome_docs import APPLIED, ASYNC_CONTRACT, PREFER_PARAMETER, PREFER_RESPONSES
from tradedata.prefer import answer_after_verdict, requested_wait
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
    description=ASYNC_CONTRACT,
    openapi_extra={"requestBody": TRADE_BODY, "parameters": [PREFER_PARAMETER]},
    responses={
        201: {"headers": {**LOCATION, **APPLIED}},
        **PREFER_RESPONSES,
        **problem_responses(400, 413, 415, 422, 503),
    },
)
async def post_trade(request: Request, ingest: IngestDep) -> Response:
    wait_s = requested_wait(request.headers.getlist("prefer"), ingest.settings.tradedata_prefer_wait_max_s)
    outcomes = request.app.state.outcomes if wait_s is not None else None
    data = await read_json_body(request, ingest.settings.tradedata_max_body_bytes)
    if not isinstance(data, dict):
        raise TradeRejected("the body must be a JSON object (one trade)")
    checked = ingest.accept(data, ingest.clock())
    if not isinstance(checked, Record):
        raise TradeRejected(f"the trade has invalid fields: {summary(checked)}", errors=checked)
    if outcomes is not None:
        outcomes.watcher.ensure_started()  # before publishing: its reader is positioned by then
    outcome = (await ingest.publish([(0, checked)], principal_of(request).id))[0]
    if outcome.status != "accepted":
        raise PublishUnavailable(outcome.reason)
    body = accepted_body(checked, ingest.topic, outcome.partition, outcome.offset)
    location = f"/trades/{quote(checked.trade_id, safe='')}"  # headers are latin-1
    if outcomes is not None and wait_s is not None:
        return await answer_after_verdict(outcomes.watcher, orjson.loads(body), wait_s, location)
    return Response(body, status_code=201, media_type="application/json", headers={"Location": location})
