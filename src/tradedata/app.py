"""The composition root: builds the API from settings, wiring the producer, the store reader and the
authenticator (tests inject fakes), registers routers with their scopes and the problem handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date
from functools import partial

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from shared.errors import PublishUnavailable
from shared.kafka import TradeProducer, ensure_topics
from shared.ports import TradeReader
from shared.settings import Settings, load_settings
from shared.stores import open_reader
from tradedata import console
from tradedata.auth import ADMIN, READ, WRITE, Authenticator, scope_guard
from tradedata.auth.policy import auth_problem
from tradedata.context import ApiContext
from tradedata.hotpath import HotPath
from tradedata.models import utc_today
from tradedata.problems import install_problem_handlers
from tradedata.routes import batch, health, read, status, trades
from tradedata.service import Ingest, Publisher
from tradedata.status import Outcomes

log = logging.getLogger("tradedata")


def create_app(
    settings: Settings | None = None,
    producer: Publisher | None = None,
    clock: Callable[[], date] = utc_today,
    reader: TradeReader | None = None,
    outcomes: Outcomes | None = None,
) -> FastAPI:
    """Build the API. Producer, reader and outcomes may be injected (tests); otherwise the lifespan opens
    them (outcomes only along with its own producer: an injected producer means there is no broker)."""
    cfg = settings or load_settings()
    refused = auth_problem(cfg)
    if refused:
        raise RuntimeError(refused)
    ctx = ApiContext(cfg, clock, Authenticator.from_settings(cfg), producer, reader)
    if producer is not None:
        ctx.ingest = Ingest(producer, cfg, clock)

    app = TradeDataApp(
        title="TradeData",
        version="0.1.0",
        summary="Validates trades and publishes them to the Kafka topic `trades`.",
        lifespan=_lifespan(ctx, outcomes),
        docs_url=None,  # /docs is served offline by tradedata.console (no CDN); no ReDoc
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.outcomes = outcomes
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(trades.router, **scope_guard(cfg, WRITE))
    app.include_router(batch.router, **scope_guard(cfg, WRITE))
    app.include_router(read.router, **scope_guard(cfg, READ))
    app.include_router(status.router, **scope_guard(cfg, READ))
    app.include_router(health.metrics_router, **scope_guard(cfg, ADMIN))
    console.install(app)  # /console (trades:read pages, trades:admin actions), /docs
    app.hot = HotPath(partial(FastAPI.__call__, app), ctx)  # plainly valid POST /trades (tradedata.hotpath)
    return app


class TradeDataApp(FastAPI):
    """FastAPI with the raw fast path of plain single POSTs in front of its whole middleware stack: what
    the fast path does not answer goes to FastAPI (``hot.app``) with the body replayed. An exception in
    the fast path is the server's plain 500, as Starlette's ServerErrorMiddleware answered it before."""

    hot: HotPath

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.hot(scope, receive, send)


def _lifespan(
    ctx: ApiContext, outcomes: Outcomes | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open what was not injected (producer, reader, outcomes) at start; close what was opened at stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned_producer, owned_reader = ctx.producer is None, ctx.reader is None
        if owned_producer:
            await run_in_threadpool(_ensure_topics, ctx.settings)
            ctx.producer = await _start_producer(ctx.settings)  # batches: KAFKA_LINGER_MS, KAFKA_COMPRESSION
            ctx.ingest = Ingest(ctx.producer, ctx.settings, ctx.clock)
            single = await _start_producer(_single_post(ctx.settings))
            ctx.single = Ingest(single, ctx.settings, ctx.clock)
        if owned_reader:
            ctx.reader = open_reader(ctx.settings, "mongo")  # connects lazily: starts without MongoDB
        if outcomes is None and owned_producer:  # its reader starts on the first request that needs it
            app.state.outcomes = Outcomes.from_settings(ctx.settings)
        try:
            yield
        finally:
            for resource in ctx.extras.values():  # what routers opened lazily (the console's sampler)
                close = getattr(resource, "close", None)
                if callable(close):
                    close()
            if outcomes is None and app.state.outcomes is not None:
                app.state.outcomes.stop()
                app.state.outcomes = None
            if owned_reader and ctx.reader is not None:
                ctx.reader.close()
                ctx.reader = None
            if owned_producer:
                for ingest in (ctx.single, ctx.ingest):
                    await _close_producer(ingest.producer if ingest else None)
                ctx.producer = ctx.ingest = ctx.single = None

    return lifespan


def _single_post(settings: Settings) -> Settings:
    """The single-POST producer's settings: TRADEDATA_LINGER_MS and TRADEDATA_COMPRESSION (issue 14)."""
    own = {
        "kafka_linger_ms": settings.tradedata_linger_ms,
        "kafka_compression": settings.tradedata_compression,
    }
    return settings.model_copy(update=own)


def _ensure_topics(settings: Settings) -> None:
    try:
        ensure_topics(settings)
    except Exception as exc:  # the broker may come later: /ready says so, POST answers 503
        log.warning("could not ensure topics at start (%s); continuing", exc)


async def _close_producer(producer: Publisher | None) -> None:
    if isinstance(producer, TradeProducer):
        undelivered = await run_in_threadpool(producer.close)
        if undelivered:
            log.error("%d records were not acknowledged at shutdown", undelivered)


async def _start_producer(settings: Settings) -> TradeProducer:
    producer = TradeProducer(settings, block_on_metadata=False)
    try:
        await run_in_threadpool(producer.warm, settings.trades_topic)
    except PublishUnavailable as exc:  # refreshed in the background; POST answers 503 meanwhile
        log.warning("no metadata for %s at start (%s); continuing", settings.trades_topic, exc)
    return producer
