"""`tradestore up`: the whole system on this machine, in the foreground, on embedded defaults."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.logs import configure_logging
from shared.settings import load_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("up", help="run the whole stack locally (embedded services)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tradestore.local import INSTALL_HINT, missing_local_packages
    from tradestore.local.stack import Stack

    missing = missing_local_packages()
    if missing:
        print(
            f"tradestore up: the embedded services need {', '.join(missing)}, which the runtime "
            f"distribution leaves out; install them with: {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return Stack(settings).run_foreground()
