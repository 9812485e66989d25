"""`tradestore contract`: print, write or check the committed JSON Schema of TradePayload."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.contract import breaking_changes
from shared.schema import trade_json_schema

DEFAULT_PATH = Path("contracts/trade.schema.json")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("contract", help="print/write/check the trade JSON Schema")
    p.add_argument("--path", type=Path, default=DEFAULT_PATH)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the current schema to --path")
    mode.add_argument("--check", action="store_true", help="exit 1 if the current schema breaks --path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    current = trade_json_schema()
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if args.write:
        args.path.write_text(text)
        print(f"wrote {args.path}")
        return 0
    if args.check:
        problems = breaking_changes(json.loads(args.path.read_text()), current)
        for item in problems:
            print(f"breaking: {item}", file=sys.stderr)
        return 1 if problems else 0
    sys.stdout.write(text)
    return 0
