"""What the routes need, wired once by the composition root (tradedata.app) and injected as `Annotated`
dependencies: settings, clock, the producer, the store reader, the authenticator.

The dependency functions are `async` on purpose: FastAPI runs a plain `def` dependency in the thread
pool, a hop per request that cost the single POST half its throughput (measured with wrk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from shared.errors import PublishUnavailable, StoreUnavailable
from shared.ports import TradeReader
from shared.settings import Settings
from tradedata.service import Ingest, Publisher

if TYPE_CHECKING:
    from tradedata.auth.guard import Authenticator


@dataclass
class ApiContext:
    """Held on app.state.ctx; the producer and reader are set by the lifespan unless injected."""

    settings: Settings
    clock: Callable[[], date]
    auth: Authenticator
    producer: Publisher | None = None
    reader: TradeReader | None = None
    ingest: Ingest | None = None  # built with the producer
    single: Ingest | None = None  # plain single POSTs (tradedata.hotpath): their own producer; else ingest
    # The console's lazily opened resources (tradedata.console, helper F); the API's own collaborators
    # are the typed fields above, injected as Annotated dependencies.
    extras: dict[str, Any] = field(default_factory=dict)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def _settings(request: Request) -> Settings:
    return context(request).settings


async def _producer(request: Request) -> Publisher:
    producer = context(request).producer
    if producer is None:
        raise PublishUnavailable("the producer is not started")
    return producer


async def _ingest(request: Request) -> Ingest:
    ingest = context(request).ingest
    if ingest is None:
        raise PublishUnavailable("the producer is not started")
    return ingest


async def _reader(request: Request) -> TradeReader:
    reader = context(request).reader
    if reader is None:
        raise StoreUnavailable("no trade store is configured for reads")
    return reader


SettingsDep = Annotated[Settings, Depends(_settings)]
ProducerDep = Annotated[Publisher, Depends(_producer)]
ReaderDep = Annotated[TradeReader, Depends(_reader)]
IngestDep = Annotated[Ingest, Depends(_ingest)]
