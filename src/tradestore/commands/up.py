"""`tradestore up`: the whole system on this machine, in the foreground, on embedded defaults."""

from __future__ import annotations

import argparse
from typing import Any

from shared.logs import configure_logging
from shared.settings import load_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("up", help="run the whole stack locally (embedded services)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tradestore.stack import Stack

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return Stack(settings).run_foreground()
