"""The bench result as a table (rich), the targets of issue 8, and the trend against the last run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# (row, field, label, unit, better)
FIGURES: list[tuple[str, str, str, str, str]] = [
    ("naive_single", "trades_per_s", "naive reference, wrk 2x16", "trades/s", "up"),
    ("naive_single", "p99_ms", "naive reference p99", "ms", "down"),
    ("single_wrk", "trades_per_s", "TradeStore single POST, wrk 2x16", "trades/s", "up"),
    ("single_wrk", "p50_ms", "TradeStore single POST p50", "ms", "down"),
    ("single_wrk", "p99_ms", "TradeStore single POST p99", "ms", "down"),
    ("ratios", "single_vs_naive", "single POST rate / naive", "x", "up"),
    ("ratios", "naive_p99_over_single", "naive p99 / single POST p99", "x", "up"),
    ("e2e_wrk", "trades_per_s", "wrk run's trades into both stores", "trades/s", "up"),
    ("ratios", "e2e_vs_slower_sink", "end to end / slower sink alone", "ratio", "up"),
    ("raw_producer", "trades_per_s", "raw producer ceiling", "trades/s", "up"),
    ("single_c1", "trades_per_s", "single POST c=1", "trades/s", "up"),
    ("single_c1", "p99_ms", "single POST c=1 p99", "ms", "down"),
    ("single_c4", "trades_per_s", "single POST c=4", "trades/s", "up"),
    ("single_c4", "p99_ms", "single POST c=4 p99", "ms", "down"),
    ("single_c16", "trades_per_s", "single POST c=16", "trades/s", "up"),
    ("single_c16", "p50_ms", "single POST c=16 p50", "ms", "down"),
    ("single_c16", "p99_ms", "single POST c=16 p99", "ms", "down"),
    ("batch", "trades_per_s", "batch", "trades/s", "up"),
    ("batch", "ratio_to_raw", "batch / raw ceiling", "ratio", "up"),
    ("sink_mongo", "trades_per_s", "mongo sink drain", "trades/s", "up"),
    ("sink_mongo", "raw_upsert_per_s", "mongo raw bulk upsert", "trades/s", "up"),
    ("sink_mongo", "ratio_to_raw", "mongo sink / raw", "ratio", "up"),
    ("sink_sql", "trades_per_s", "sql sink drain", "trades/s", "up"),
    ("sink_sql", "raw_upsert_per_s", "sql raw bulk upsert", "trades/s", "up"),
    ("sink_sql", "ratio_to_raw", "sql sink / raw", "ratio", "up"),
    ("sink_sqlite", "trades_per_s", "sqlite sink drain", "trades/s", "up"),
    ("sink_sqlite", "raw_upsert_per_s", "sqlite raw bulk upsert", "trades/s", "up"),
    ("sink_sqlite", "ratio_to_raw", "sqlite sink / raw", "ratio", "up"),
    ("e2e", "seconds", "end to end, both stores", "s", "down"),
    ("e2e", "p50_ms", "end to end p50", "ms", "down"),
    ("e2e", "p99_ms", "end to end p99", "ms", "down"),
    ("memory_api", "peak_rss_mb", "API peak RSS", "MiB", "down"),
    ("memory_consume_mongo", "peak_rss_mb", "mongo consumer peak RSS", "MiB", "down"),
    ("memory_consume_sql", "peak_rss_mb", "sql consumer peak RSS", "MiB", "down"),
]

# (label, row, field, comparison, threshold); issue 14's goals first, then issue 8's
TARGETS: list[tuple[str, str, str, str, float]] = [
    ("14.1 single POST >= 5x naive (wrk 2x16, consumers on)", "ratios", "single_vs_naive", ">=", 5),
    ("14.1 single POST p99 <= 1/4 of naive p99", "ratios", "naive_p99_over_single", ">=", 4),
    ("14.2 batch >= 100,000 trades/s", "batch", "trades_per_s", ">=", 100_000),
    ("14.2 API RSS <= 150 MB", "memory_api", "peak_rss_mb", "<=", 150),
    ("14.3 mongo sink >= 85% of raw", "sink_mongo", "ratio_to_raw", ">=", 0.85),
    ("14.3 sql sink >= 85% of raw", "sink_sql", "ratio_to_raw", ">=", 0.85),
    ("14.3 sqlite sink >= 85% of raw", "sink_sqlite", "ratio_to_raw", ">=", 0.85),
    ("14.4 end to end >= 80% of slower sink", "ratios", "e2e_vs_slower_sink", ">=", 0.8),
    ("single POST c=16 >= 3,000 trades/s", "single_c16", "trades_per_s", ">=", 3000),
    ("single POST c=16 p99 <= 25 ms", "single_c16", "p99_ms", "<=", 25),
    ("batch >= 25,000 trades/s", "batch", "trades_per_s", ">=", 25_000),
    ("batch >= 50% of raw ceiling", "batch", "ratio_to_raw", ">=", 0.5),
    ("mongo sink >= 70% of raw store rate", "sink_mongo", "ratio_to_raw", ">=", 0.7),
    ("sql sink >= 70% of raw store rate", "sink_sql", "ratio_to_raw", ">=", 0.7),
    ("10,000 trades end to end < 10 s", "e2e", "seconds", "<", 10),
    ("API RSS < 150 MB", "memory_api", "peak_rss_mb", "<", 150),
]


# what each process is called in the CPU table: the naive reference's and TradeStore's under one name
ROLES: dict[str, str] = {
    "api": "API",
    "naive-api": "API",
    "consume-mongo": "mongo consumer",
    "naive-mongo": "mongo consumer",
    "consume-sql": "sql consumer",
    "naive-sql": "sql consumer",
    "kafka": "broker",
    "mongo": "nx-27017",
    "postgres": "PostgreSQL",
}
CPU_RUNS = (
    ("naive_single", "naive wrk"),
    ("single_wrk", "ours wrk"),
    ("batch", "batch"),
    ("sink_mongo", "mongo"),
    ("sink_sql", "sql"),
    ("sink_sqlite", "sqlite"),
)


def cpu_split(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """CPU microseconds per trade of each measured run (the wrk runs, batch POSTs, sink drains), by role:
    {role: {run label: us}}; "cores busy" is the CPU of everything over the run's wall time."""
    table: dict[str, dict[str, float]] = {}
    for row, label in CPU_RUNS:
        cpu = result.get("rows", {}).get(row, {}).get("cpu") or {}
        for name, us in cpu.get("us_per_trade", {}).items():
            role = table.setdefault(ROLES.get(name, name), {})
            role[label] = role.get(label, 0.0) + us
        if cpu:
            table.setdefault("cores busy", {})[label] = cpu["cores"]
    return table


def derive(result: dict[str, Any]) -> None:
    """The ratios of issue 14, from rows of the same run (row "ratios"); missing inputs leave them out."""
    ratios: dict[str, float] = {}
    naive, single = value(result, "naive_single", "trades_per_s"), value(result, "single_wrk", "trades_per_s")
    if naive and single:
        ratios["single_vs_naive"] = single / naive
    naive_p99, p99 = value(result, "naive_single", "p99_ms"), value(result, "single_wrk", "p99_ms")
    if naive_p99 and p99:
        ratios["naive_p99_over_single"] = naive_p99 / p99
    sinks = [value(result, r, "trades_per_s") for r in ("sink_mongo", "sink_sql")]
    e2e = value(result, "e2e_wrk", "trades_per_s")
    if e2e and all(sinks):
        ratios["e2e_vs_slower_sink"] = e2e / min(v for v in sinks if v)
    result.setdefault("rows", {})["ratios"] = ratios


def value(result: dict[str, Any], row: str, field: str) -> float | None:
    found = result.get("rows", {}).get(row, {}).get(field)
    return float(found) if isinstance(found, int | float) else None


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with the measured value and met / missed / not measured."""
    out = []
    for label, row, field, op, threshold in TARGETS:
        v = value(result, row, field)
        met = None if v is None else {">=": v >= threshold, "<=": v <= threshold, "<": v < threshold}[op]
        out.append({"target": label, "value": v, "met": met})
    return out


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "ratio":
        return f"{v:.0%}"
    if unit == "x":
        return f"{v:.2f}x"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def _change(v: float | None, p: float | None, better: str) -> str:
    if v is None or not p:
        return "-"
    colour = "green" if (v > p) == (better == "up") else "red"
    return f"[{colour}]{(v - p) / p:+.0%}[/]"


def render(result: dict[str, Any], previous: dict[str, Any] | None, console: Console) -> None:
    facts = result["facts"]
    title = (
        f"tradestore bench @ {facts['commit']}: {facts['nproc']} x {facts['cpu_model']}, py {facts['python']}"
    )
    table = Table(title=title)
    for col in ("figure", "value", "unit") + (("previous", "change") if previous else ()):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for row, field, label, unit, better in FIGURES:
        v = value(result, row, field)
        if v is None and "error" in result["rows"].get(row, {}):
            table.add_row(label, result["rows"][row]["error"][:60], "")
            continue
        cells = [label, _fmt(v, unit), unit]
        if previous:
            p = value(previous, row, field)
            cells += [_fmt(p, unit), _change(v, p, better)]
        table.add_row(*cells)
    console.print(table)
    goals = Table(title="issue 14 goals and issue 8 targets")
    for col in ("target", "measured", "met"):
        goals.add_column(col)
    for t in result["targets"]:
        met = "n/a" if t["met"] is None else ("[green]yes[/]" if t["met"] else "[red]no[/]")
        goals.add_row(t["target"], _fmt(t["value"], ""), met)
    console.print(goals)
    split = cpu_split(result)
    if split:
        cpu = Table(title="where the CPU went: microseconds per trade (wrk runs, batch POST, sink drains)")
        for col in ("process", *(label for _, label in CPU_RUNS)):
            cpu.add_column(col, justify="left" if col == "process" else "right")
        for role, runs in split.items():
            spec = ".2f" if role == "cores busy" else ",.0f"
            cpu.add_row(role, *(format(runs[label], spec) if label in runs else "-" for _, label in CPU_RUNS))
        console.print(cpu)


def save(result: dict[str, Any], results_dir: Path) -> Path:
    """Write latest.json and a timestamped copy; returns the timestamped path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, sort_keys=True, default=str) + "\n"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"{stamp}{'-quick' if result.get('quick') else ''}.json"
    path.write_text(text)
    (results_dir / "latest.json").write_text(text)
    return path


def load_latest(results_dir: Path) -> dict[str, Any] | None:
    path = results_dir / "latest.json"
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded
