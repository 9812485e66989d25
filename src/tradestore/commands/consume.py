"""`tradestore consume mongo|sql`: run one sink on the trades topic (compose's kafkaconsumer services)."""

from __future__ import annotations

import argparse
from typing import Any

from shared.consumer import serve
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.stores import open_writer


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("consume", help="persist the trades topic into a store")
    p.add_argument("sink", choices=["mongo", "sql"], help="mongo: MONGO_URL; sql: SQL_URL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return serve(settings, open_writer(settings, args.sink))
