"""`tradestore api`: serve TradeData (what compose's `tradedata` service runs)."""

from __future__ import annotations

import argparse
from typing import Any

from shared.logs import configure_logging
from shared.settings import load_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("api", help="serve the TradeData HTTP API")
    p.add_argument("--host", help="bind address (TRADEDATA_HOST)")
    p.add_argument("--port", type=int, help="port (TRADEDATA_PORT)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from tradedata.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.tradedata_host,
        port=args.port or settings.tradedata_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0
