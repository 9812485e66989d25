"""The FastAPI application: wiring only (lifespan, routers, OpenAPI); the routes live in tradedata.routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from shared.errors import PublishUnavailable
from shared.kafka import TradeProducer, ensure_topics
from shared.settings import Settings, load_settings
from tradedata import console
from tradedata.auth import AuthRefused, auth_refused_handler, read_guard, write_guard
from tradedata.context import ApiContext
from tradedata.models import Trade, utc_today
from tradedata.outcomes import OutcomeWatcher
from tradedata.routes import batch, health, read, status, trades

log = logging.getLogger("tradedata")


def create_app(
    settings: Settings | None = None,
    producer: Any | None = None,
    clock: Callable[[], date] = utc_today,
) -> FastAPI:
    """Build the API. A producer may be injected (tests); otherwise one is made in the lifespan."""
    ctx = ApiContext(settings=settings or load_settings(), clock=clock, producer=producer)
    refused = ctx.settings.api_auth_problem()
    if refused:
        raise RuntimeError(refused)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        owned = ctx.producer is None
        if owned:
            try:
                await run_in_threadpool(ensure_topics, ctx.settings)
            except Exception as exc:  # the broker may come later: /ready says so, POST answers 503
                log.warning("could not ensure topics at start (%s); continuing", exc)
            ctx.producer = TradeProducer(ctx.settings, block_on_metadata=False)
            try:
                await run_in_threadpool(ctx.producer.warm, ctx.settings.trades_topic)
            except PublishUnavailable as exc:  # refreshed in the background; POST answers 503 meanwhile
                log.warning("no metadata for %s at start (%s); continuing", ctx.settings.trades_topic, exc)
        try:
            yield
        finally:
            app.state.outcomes.stop()
            if owned:
                undelivered = await run_in_threadpool(ctx.producer.close)
                if undelivered:
                    log.error("%d records were not acknowledged at shutdown", undelivered)
                ctx.producer = None

    app = FastAPI(
        title="TradeData",
        version="0.1.0",
        summary="Validates trades and publishes them to the Kafka topic `trades`.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served offline by tradedata.console
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.outcomes = OutcomeWatcher(ctx.settings)  # started by the first request that needs a verdict
    app.include_router(trades.router, **write_guard(ctx.settings))
    app.include_router(health.router)
    app.include_router(read.router, **read_guard(ctx.settings))
    app.include_router(status.router, **read_guard(ctx.settings))
    app.include_router(batch.router, **write_guard(ctx.settings))
    app.add_exception_handler(AuthRefused, auth_refused_handler)  # 401/403 as problem+json
    console.install(app)  # /console, /docs, /redoc

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = default_openapi()
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas["Trade"] = Trade.model_json_schema(ref_template="#/components/schemas/{model}")
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
