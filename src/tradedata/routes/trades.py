"""POST /trades: validate one trade, publish it, answer 201 only once the broker acknowledged it."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from shared.errors import PublishUnavailable, TradeRuleViolation
from shared.kafka import Delivery
from shared.rules import validate_trade
from shared.schema import SAMPLE_TRADE, TradePayload
from tradedata.auth import PROBLEM_DOC, RETRY_LATER_DOC
from tradedata.body import BodyError, read_json_body
from tradedata.context import ApiContext, context
from tradedata.prefer import answer_after_verdict, requested_wait
from tradedata.problems import field_errors_from_validation, problem, unavailable
from tradedata.service import publish_trade

router = APIRouter(tags=["trades"])

TRADE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/Trade"},
            "examples": {"sample": {"summary": "The seed's sample trade", "value": SAMPLE_TRADE}},
        }
    },
}


class Refused(Exception):
    """A trade refused before publishing; `response` is its problem answer."""

    def __init__(self, response: Response) -> None:
        self.response = response


def check_trade(data: object, ctx: ApiContext) -> TradePayload:
    """Shape rules then clock rules; raises Refused with a 422 problem listing every offending field."""
    if not isinstance(data, dict):
        raise Refused(problem(422, "the body must be a JSON object (one trade)"))
    try:
        return validate_trade(
            TradePayload.model_validate(data), ctx.clock(), ctx.settings.tradestore_matured_policy
        )
    except ValidationError as exc:
        errors = [e.as_dict() for e in field_errors_from_validation(exc)]
        raise Refused(problem(422, "the trade has invalid fields", errors=errors)) from None
    except TradeRuleViolation as exc:
        raise Refused(problem(422, str(exc), errors=[e.as_dict() for e in exc.errors])) from None


async def publish_and_wait(ctx: ApiContext, trade: TradePayload) -> Delivery:
    """Publish and await the broker's acknowledgement without blocking the event loop."""
    cfg = ctx.settings
    try:
        future = publish_trade(ctx.producer, trade, cfg.trades_topic)
        delivery: Delivery = await asyncio.wait_for(
            asyncio.wrap_future(future), cfg.kafka_publish_timeout_s + 1
        )
    except PublishUnavailable as exc:
        raise Refused(unavailable(str(exc))) from None
    except TimeoutError:
        raise Refused(
            unavailable(f"broker did not acknowledge within {cfg.kafka_publish_timeout_s:g}s")
        ) from None
    return delivery


@router.post(
    "/trades",
    status_code=201,
    summary="Validate a trade and publish it to Kafka",
    openapi_extra={"requestBody": TRADE_BODY},
    responses={
        201: {
            "description": "Accepted: the broker acknowledged the record (topic, partition, offset)",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": [*TradePayload.model_fields, "topic", "partition", "offset"],
                        "properties": {
                            **TradePayload.model_json_schema()["properties"],
                            "topic": {"type": "string"},
                            "partition": {"type": "integer", "minimum": 0},
                            "offset": {"type": "integer", "minimum": 0},
                        },
                        "additionalProperties": False,
                    }
                }
            },
        },
        400: PROBLEM_DOC,
        413: PROBLEM_DOC,
        415: PROBLEM_DOC,
        422: PROBLEM_DOC,
        503: RETRY_LATER_DOC,
    },
)
async def post_trade(request: Request) -> Response:
    ctx = context(request)
    wait_s = requested_wait(request.headers.getlist("prefer"), ctx.settings.tradedata_prefer_wait_max_s)
    try:
        data = await read_json_body(request, ctx.settings.tradedata_max_body_bytes)
        trade = check_trade(data, ctx)
        if wait_s is not None:
            request.app.state.outcomes.ensure_started()
        delivery = await publish_and_wait(ctx, trade)
    except BodyError as exc:
        return problem(exc.status, exc.detail)
    except Refused as exc:
        return exc.response
    body = {
        **trade.to_message(),
        "topic": delivery.topic,
        "partition": delivery.partition,
        "offset": delivery.offset,
    }
    location = f"/trades/{quote(trade.trade_id, safe='')}"  # headers are latin-1
    if wait_s is not None:
        return await answer_after_verdict(request.app.state.outcomes, body, wait_s, location)
    return Response(
        orjson.dumps(body), status_code=201, media_type="application/json", headers={"Location": location}
    )
