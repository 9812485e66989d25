"""`tradestore`: one command, a subcommand per job. Each subcommand lives in tradestore.commands.<name>."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Module names under tradestore.commands; each exposes register(subparsers) that sets `func`.
COMMANDS = ["up", "api", "contract"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradestore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tradestore.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
