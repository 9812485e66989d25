"""`tradestore chaos`: the fault-injection run (issue 7): N trades through the API while faults happen."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from shared.logs import configure_logging


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "chaos", help="post N trades while injecting faults, then check nothing was lost or doubled"
    )
    p.add_argument("-n", type=int, default=100_000, help="posts (default 100000)")
    p.add_argument("--faults", type=int, default=60, help="faults to inject (default 60)")
    p.add_argument("--seed", type=int, default=7, help="seed of the scenario and the fault schedule")
    p.add_argument("--concurrency", type=int, default=8, help="posting threads (default 8)")
    p.add_argument("--instances", type=int, default=3, help="consumer instances per sink (default 3)")
    p.add_argument("--apis", type=int, default=2, help="API processes, posts dealt over them (default 2)")
    p.add_argument(
        "--membership",
        choices=("static", "dynamic"),
        default="static",
        help="consumer group membership of the instances (default static: same id after a restart)",
    )
    p.add_argument(
        "--strategy",
        choices=("default", "cooperative-sticky", "range", "roundrobin"),
        default="default",
        help="the instances' CONSUMER_ASSIGNMENT_STRATEGY (default: the product's; see docs/scaling.md)",
    )
    p.add_argument(
        "--churn",
        choices=("all", "same-id"),
        default="all",
        help="membership faults: all (kills, scale down/up, new-id joins) or same-id (no new-id joins)",
    )
    p.add_argument("--rate", type=float, help="cap on posts per second (default: as fast as it goes)")
    p.add_argument(
        "--window", type=float, help="seconds to spread faults over (default n/rate, n/500 without --rate)"
    )
    p.add_argument(
        "--fault-seconds",
        type=float,
        nargs=2,
        default=(0.5, 3.0),
        metavar=("MIN", "MAX"),
        help="fault length",
    )
    p.add_argument(
        "--publish-timeout", type=float, default=2.0, help="the API's KAFKA_PUBLISH_TIMEOUT_S (default 2)"
    )
    p.add_argument("--workdir", type=Path, help="where the services keep data and logs (default: a temp dir)")
    p.add_argument("--json", type=Path, help="also write every figure and the fault log here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tradestore_tools.chaos.report import as_json, print_report
    from tradestore_tools.chaos.run import ChaosConfig, run_chaos

    configure_logging("INFO", "text")
    console = Console()
    config = ChaosConfig(
        n=args.n,
        faults=args.faults,
        seed=args.seed,
        concurrency=args.concurrency,
        instances=args.instances,
        apis=args.apis,
        static=args.membership == "static",
        strategy=None if args.strategy == "default" else args.strategy,
        new_id_joins=args.churn == "all",
        window_s=args.window,
        rate=args.rate,
        fault_duration_s=(args.fault_seconds[0], args.fault_seconds[1]),
        publish_timeout_s=args.publish_timeout,
        workdir=args.workdir,
    )
    console.print(
        f"chaos: {config.n} posts over {config.apis} APIs, {config.instances} instances per sink, "
        f"{config.faults} faults over {config.window():.0f}s, seed {config.seed}"
    )
    result = run_chaos(config)
    print_report(result, console)
    if args.json:
        args.json.write_text(json.dumps(as_json(result), indent=2))
    return 0 if result.ok else 1
