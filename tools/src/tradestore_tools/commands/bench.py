"""`tradestore bench`: measure the whole pipeline in one run, print a table, keep the result for the trend."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
from pathlib import Path
from typing import Any

from shared.logs import configure_logging

RESULTS = Path("bench/results")  # relative to the working directory: the checkout, as the README runs it


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("bench", help="benchmark API, producer, sinks and end to end")
    p.add_argument("--quick", action="store_true", help="a small run (seconds), for a smoke test")
    p.add_argument("--compare", action="store_true", help="print the change against the last saved result")
    p.add_argument("--results", type=Path, default=RESULTS, help="where results are kept (bench/results)")
    p.add_argument("--no-sinks", action="store_true", help="skip the sink and end-to-end rows")
    p.add_argument("--workers", type=int, help="API worker processes (TRADEDATA_WORKERS)")
    p.add_argument(
        "--set", action="append", default=[], metavar="SIZE=N", help="override a size, e.g. raw_trades=1000"
    )
    p.set_defaults(func=run)


def sizes_from(args: argparse.Namespace) -> Any:
    from tradestore_tools.bench.runner import QUICK, Sizes

    sizes = QUICK if args.quick else Sizes()
    changes: dict[str, Any] = {}
    for item in args.set:
        name, _, raw = item.partition("=")
        current = getattr(sizes, name)
        if isinstance(current, tuple):
            changes[name] = tuple(int(x) for x in raw.split(","))
        elif isinstance(current, bool):
            changes[name] = raw.lower() in ("1", "true", "yes")
        else:
            changes[name] = type(current)(raw)
    if args.workers:
        changes["workers"] = args.workers
    return dataclasses.replace(sizes, **changes)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tradestore_tools.bench.report import derive, load_latest, render, save, targets
    from tradestore_tools.bench.runner import run_bench

    configure_logging("INFO", "text")
    logging.getLogger("librdkafka").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    previous = load_latest(args.results)
    with tempfile.TemporaryDirectory(prefix="tradestore-bench-") as tmp:
        result = run_bench(sizes_from(args), Path(tmp), Path.cwd(), sinks=not args.no_sinks)
    result["quick"] = bool(args.quick)
    derive(result)
    result["targets"] = targets(result)
    path = save(result, args.results)
    render(result, previous if args.compare else None, Console())
    print(f"saved {path} and {args.results / 'latest.json'}")
    return 0
