"""`tradestore regress -n N`: the regression runner (test design 4.4) against a running stack."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from shared.kafka import client_config
from shared.logs import configure_logging
from shared.settings import Settings, load_settings
from tradedata.models import utc_today
from tradestore.posting import Posting, post_all
from tradestore.regress.check import Check, summary_checks
from tradestore.regress.runner import count_rejections, wait_for_summary
from tradestore.regress.scenario import Scenario, build_scenario
from tradestore.stores import open_readers


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("regress", help="submit N trades and check both stores")
    p.add_argument("-n", type=int, default=1000, help="number of posts (default 1000)")
    p.add_argument("--url", help="TradeData base URL (default TRADEDATA_URL or the local API)")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the stores to settle")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=run)


def auth_headers(settings: Settings) -> dict[str, str]:
    keys = settings.api_keys()
    return {"X-API-Key": keys[0]} if keys else {}


def print_table(checks: list[Check], console: Console) -> None:
    stores = list(dict.fromkeys(name for check in checks for name in check.actual))
    table = Table(title="regression checks")
    for col in ["check", "expected", *stores, "ok"]:
        table.add_column(col, justify="left" if col == "check" else "right")
    for check in checks:
        mark = "[green]yes[/green]" if check.ok else "[red]NO[/red]"
        table.add_row(check.name, str(check.expected), *(str(check.actual.get(s, "")) for s in stores), mark)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging("WARNING", settings.log_format)
    console = Console()
    url = args.url or settings.api_url
    prefix = f"R{uuid.uuid4().hex[:8]}-"
    scenario = build_scenario(args.n, utc_today(), prefix, seed=args.seed)
    console.print(
        f"regress: {scenario.posts} posts over {len(scenario.groups)} trades to {url} (prefix {prefix})"
    )
    sent = post_with_progress(scenario, url, args.concurrency, settings, console)
    console.print(
        f"posted in {sent.seconds:.1f}s ({scenario.posts / max(sent.seconds, 1e-9):.0f}/s): "
        f"{sent.acknowledged} acknowledged, {sent.retried_503} answers of 503 retried"
    )
    checks = [Check("posts acknowledged (2xx)", scenario.posts, {"api": sent.acknowledged})]
    checks += store_checks(scenario, prefix, settings, args.timeout, console)
    print_table(checks, console)
    for trade, status, body in sent.rejected[:10]:
        console.print(f"[red]{status}[/red] for {trade['trade_id']} v{trade['version']}: {body}")
    for trade in sent.unacked[:10]:
        console.print(f"[red]never acknowledged[/red]: {trade['trade_id']} v{trade['version']}")
    ok = all(c.ok for c in checks)
    console.print("[green]regression passed[/green]" if ok else "[red]regression FAILED[/red]")
    return 0 if ok else 1


def post_with_progress(
    scenario: Scenario, url: str, concurrency: int, settings: Settings, console: Console
) -> Posting:
    """Every post of the scenario, with a progress bar."""
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("posting", total=scenario.posts)
        return post_all(
            scenario.groups,
            url,
            concurrency,
            deadline_s=60.0,
            tick=lambda: progress.advance(task),
            headers=auth_headers(settings),
        )


def store_checks(
    scenario: Scenario, prefix: str, settings: Settings, timeout_s: float, console: Console
) -> list[Check]:
    """Wait until each store holds the expected summary (or time out), then compare; count DLQ rejections."""
    readers = open_readers(settings)
    try:
        actual = {}
        for reader in readers:
            actual[reader.name], waited = wait_for_summary(reader, prefix, scenario.expected, timeout_s)
            console.print(f"{reader.name} settled after {waited:.1f}s")
    finally:
        for reader in readers:
            reader.close()
    rejected = count_rejections(
        client_config(settings),
        settings.trades_dlq_topic,
        prefix,
        [r.name for r in readers],
        scenario.expected_rejected,
        min(timeout_s, 30),
    )
    checks = summary_checks(scenario.expected, actual)
    checks.append(Check("lower versions rejected to DLQ", scenario.expected_rejected, dict(rejected)))
    return checks
