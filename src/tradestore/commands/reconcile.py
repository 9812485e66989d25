"""`tradestore reconcile`: compare MongoDB and SQL record by record; exit 1 when they differ."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from shared.logs import configure_logging
from shared.operations.history import record_reconcile
from shared.settings import load_settings
from tradestore.reconcile import Reconciliation, reconcile
from tradestore.stores import open_readers


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("reconcile", help="compare the MongoDB and SQL stores")
    p.add_argument("--prefix", default="", help="only trade_ids starting with this")
    p.add_argument("--show", type=int, default=20, help="list at most this many differences of each kind")
    p.set_defaults(func=run)


def report(result: Reconciliation, show: int, console: Console) -> None:
    table = Table(title=f"reconcile {result.left} vs {result.right}")
    table.add_column("check")
    table.add_column("count", justify="right")
    table.add_row("keys compared", str(result.compared))
    table.add_row(f"missing in {result.right}", str(len(result.missing_right)))
    table.add_row(f"missing in {result.left}", str(len(result.missing_left)))
    table.add_row("different", str(len(result.different)))
    console.print(table)
    for key in result.missing_right[:show]:
        console.print(f"missing in {result.right}: {key}")
    for key in result.missing_left[:show]:
        console.print(f"missing in {result.left}: {key}")
    for key, diff in result.different[:show]:
        fields = ", ".join(f"{k}: {result.left}={a!r} {result.right}={b!r}" for k, (a, b) in diff.items())
        console.print(f"different {key}: {fields}")
    console.print("[green]stores agree[/green]" if result.clean else "[red]stores differ[/red]")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    mongo, sql = open_readers(settings)
    try:
        result = reconcile(mongo, sql, args.prefix)
    finally:
        mongo.close()
        sql.close()
    report(result, args.show, Console())
    if not args.prefix:  # a whole-store comparison: what the console shows as "last reconcile"
        record_reconcile(settings, summary(result))
    return 0 if result.clean else 1


def summary(result: Reconciliation) -> dict[str, object]:
    return {
        "clean": result.clean,
        "keys compared": result.compared,
        f"missing in {result.right}": len(result.missing_right),
        f"missing in {result.left}": len(result.missing_left),
        "different": len(result.different),
    }
