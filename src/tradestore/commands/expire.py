"""`tradestore expire`: flip expired=true in both stores for trades past maturity (for cron)."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from shared.logs import configure_logging
from shared.settings import load_settings
from tradedata.models import utc_today
from tradestore.expiry import expire_all
from tradestore.stores import open_readers


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("expire", help="mark matured trades expired in both stores")
    p.add_argument("--today", type=date.fromisoformat, help="the date to expire against (default: UTC today)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    readers = open_readers(settings)
    try:
        flipped = expire_all(readers, args.today or utc_today())
    finally:
        for reader in readers:
            reader.close()
    for name, count in flipped.items():
        print(f"{name}: {count} trade(s) newly expired")
    return 0
