"""The FastAPI entry point: parse the body, call the service, map domain errors to status codes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from shared.errors import PublishUnavailable, TradeRuleViolation
from shared.kafka import Delivery, TradeProducer, ensure_topics
from shared.rules import validate_trade
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings, load_settings
from tradedata.models import Trade, utc_today
from tradedata.problems import PROBLEM_JSON, field_errors_from_validation, problem
from tradedata.service import publish_trade

log = logging.getLogger("tradedata")


class BodyError(Exception):
    """The request body cannot be read as a trade; carries the HTTP status and the problem detail."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_json_body(request: Request, limit: int) -> Any:
    """The parsed JSON body, refusing wrong media types (415), oversize bodies (413) and bad JSON (400)."""
    if not _is_json(request.headers.get("content-type", "")):
        raise BodyError(415, "send the trade as JSON with header 'Content-Type: application/json'")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, f"body is {declared} bytes; the limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"body is not valid JSON: {exc}") from None


def _created(trade: TradePayload, delivery: Delivery) -> Response:
    body = {
        **trade.to_message(),
        "topic": delivery.topic,
        "partition": delivery.partition,
        "offset": delivery.offset,
    }
    return Response(
        orjson.dumps(body),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/trades/{trade.trade_id}"},
    )


def _unavailable(detail: str) -> JSONResponse:
    return problem(503, detail, headers={"Retry-After": "1"})


_TRADE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/Trade"},
            "examples": {"sample": {"summary": "The seed's sample trade", "value": SAMPLE_TRADE}},
        }
    },
}
_PROBLEM = {"description": "Problem details (RFC 9457)", "content": {PROBLEM_JSON: {}}}


def create_app(
    settings: Settings | None = None,
    producer: Any | None = None,
    clock: Callable[[], date] = utc_today,
) -> FastAPI:
    """Build the API. A producer may be injected (tests); otherwise one is made in the lifespan."""
    cfg = settings or load_settings()
    state: dict[str, Any] = {"producer": producer}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        owned = state["producer"] is None
        if owned:
            try:
                await run_in_threadpool(ensure_topics, cfg)
            except Exception as exc:  # broker may come later; /ready tells, POST answers 503 meanwhile
                log.warning("could not ensure topics at start (%s); continuing", exc)
            state["producer"] = TradeProducer(cfg)
        try:
            yield
        finally:
            if owned:
                undelivered = await run_in_threadpool(state["producer"].close)
                if undelivered:
                    log.error("%d records were not acknowledged at shutdown", undelivered)

    app = FastAPI(
        title="TradeData",
        version="0.1.0",
        summary="Validates trades and publishes them to the Kafka topic `trades`.",
        lifespan=lifespan,
    )

    def _schemas(openapi: dict[str, Any]) -> dict[str, Any]:
        openapi.setdefault("components", {}).setdefault("schemas", {})["Trade"] = Trade.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        return openapi

    @app.post(
        "/trades",
        status_code=201,
        summary="Validate a trade and publish it to Kafka",
        openapi_extra={"requestBody": _TRADE_BODY},
        responses={
            201: {"description": "Accepted: the broker acknowledged the record (partition, offset)"},
            400: _PROBLEM,
            413: _PROBLEM,
            415: _PROBLEM,
            422: _PROBLEM,
            503: _PROBLEM,
        },
    )
    async def post_trade(request: Request) -> Response:
        try:
            data = await read_json_body(request, cfg.tradedata_max_body_bytes)
        except BodyError as exc:
            return problem(exc.status, exc.detail)
        if not isinstance(data, dict):
            return problem(422, "the body must be a JSON object (one trade)")
        try:
            trade = validate_trade(TradePayload.model_validate(data), clock(), cfg.tradestore_matured_policy)
        except ValidationError as exc:
            errors = field_errors_from_validation(exc)
            return problem(422, "the trade has invalid fields", errors=[e.as_dict() for e in errors])
        except TradeRuleViolation as exc:
            return problem(422, str(exc), errors=[e.as_dict() for e in exc.errors])
        try:
            future = publish_trade(state["producer"], trade, cfg.trades_topic)
            delivery = await asyncio.wait_for(asyncio.wrap_future(future), cfg.kafka_publish_timeout_s + 1)
        except PublishUnavailable as exc:
            return _unavailable(str(exc))
        except TimeoutError:
            return _unavailable(f"broker did not acknowledge within {cfg.kafka_publish_timeout_s:g}s")
        return _created(trade, delivery)

    @app.get("/health", summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: the broker is reachable", responses={503: _PROBLEM})
    async def ready() -> Response:
        reachable = await run_in_threadpool(state["producer"].broker_reachable)
        if not reachable:
            return _unavailable(f"broker {cfg.kafka_bootstrap_servers} is unreachable")
        return JSONResponse({"status": "ready"})

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _schemas(original_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
