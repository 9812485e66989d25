"""`tradestore api`: serve TradeData (what compose's `tradedata` service runs).

uvicorn with uvloop and httptools (chosen by measurement, docs/performance.md); TRADEDATA_WORKERS > 1
runs that many processes on one port, each building its app (and producer) through `app_factory`.

Once the app is built, `gc.freeze()` takes everything made so far (modules, routes, models, schemas:
long-lived) out of the cyclic collector's reach: a batch of 10,000 trades allocates enough objects to
trigger full collections, which otherwise scan all of it each time (measured: 4.9 -> 1.0 us of GC per
batched trade, docs/performance.md). Nothing is collected less: those objects live as long as the process.
"""

from __future__ import annotations

import argparse
import gc
from typing import Any

from shared.logs import configure_logging
from shared.settings import load_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("api", help="serve the TradeData HTTP API")
    p.add_argument("--host", help="bind address (TRADEDATA_HOST)")
    p.add_argument("--port", type=int, help="port (TRADEDATA_PORT)")
    p.add_argument("--workers", type=int, help="worker processes (TRADEDATA_WORKERS)")
    p.set_defaults(func=run)


def app_factory() -> Any:
    """The app of one worker process, from the environment (uvicorn `factory=True` import string)."""
    from tradedata.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    gc.freeze()  # the long-lived startup objects leave the collector's generations (docstring)
    return app


def run(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    workers = args.workers or settings.tradedata_workers
    uvicorn.run(
        "tradestore.commands.api:app_factory" if workers > 1 else app_factory(),
        factory=workers > 1,
        workers=workers,
        host=args.host or settings.tradedata_host,
        port=args.port or settings.tradedata_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        loop="uvloop",
        http="httptools",
        limit_concurrency=settings.tradedata_limit_concurrency,  # per worker; beyond it: 503
    )
    return 0
