"""Benchmark: the sinks of two checkouts side by side, interleaved, in one run (issue 11: "the benchmark
figures do not regress"; issue 14 goal 3).

Runs each checkout's own bench/mongo_sink.py and bench/sql_sink.py (SQLite and PostgreSQL) in turn,
OLD then NEW then OLD ..., so the machine's noise (2 cores shared with other work) falls on both alike,
and prints the median sink rate of each, their ratio NEW/OLD, and each sink's ratio to the raw write
rate its own program measured. A program, not a test: figures are printed, never asserted.

    .venv/bin/python bench/sink_compare.py --old /tmp/before [--rounds 3] [--trades 10000]

OLD runs with OLD's src/ first on PYTHONPATH and this interpreter (OLD's own lock may no longer install).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
MONGO = re.compile(r"sink through the runtime: ([\d,]+) trades/s")
MONGO_RAW = re.compile(r"raw bulk_write, the sink's write mix \(batch \d+\): ([\d,]+) docs/s")
SQL = re.compile(r"^(sqlite|postgresql)\s+([\d,]+)\s+([\d,]+)", re.M)


def number(text: str) -> float:
    return float(text.replace(",", ""))


def run(tree: Path, program: str, args: list[str]) -> str:
    """One benchmark program of a checkout; its output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(HERE / "tools" / "src")])}
    done = subprocess.run(  # our own interpreter and programs
        [sys.executable, str(tree / "bench" / program), *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tree}/bench/{program} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout


def measure(tree: Path, trades: int, batch: int) -> dict[str, tuple[float, float]]:
    """{sink: (sink rate, raw rate)} of one checkout, one run of each program."""
    out = run(tree, "mongo_sink.py", ["--n", str(trades), "--batch", str(batch)])
    sink, raw = MONGO.search(out), MONGO_RAW.search(out)
    if sink is None or raw is None:
        raise RuntimeError(f"no mongo figures in:\n{out}")
    rates = {"mongo": (number(sink.group(1)), number(raw.group(1)))}
    out = run(tree, "sql_sink.py", ["--trades", str(trades), "--batch", str(batch)])
    for name, raw_rows, sink_rows in SQL.findall(out):
        rates[name] = (number(sink_rows), number(raw_rows))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", type=Path, required=True, help="the other checkout (e.g. /tmp/before)")
    parser.add_argument("--new", type=Path, default=HERE, help="this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="CONSUMER_BATCH_SIZE (Settings' default)")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, tuple[float, float]]]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for label, tree in (
            (("old", args.old), ("new", args.new)) if r % 2 == 0 else (("new", args.new), ("old", args.old))
        ):
            started = time.perf_counter()
            runs[label].append(measure(tree, args.trades, args.batch))
            figures = "  ".join(f"{k} {v[0]:,.0f}/s (raw {v[1]:,.0f})" for k, v in runs[label][-1].items())
            print(f"round {r + 1} {label}: {figures}  [{time.perf_counter() - started:.0f}s]", flush=True)
    print(f"\nmedians of {args.rounds} interleaved rounds, {args.trades} trades, batch {args.batch}")
    print(f"{'sink':<11}{'old /s':>9}{'new /s':>9}{'new/old':>9}{'old/raw':>9}{'new/raw':>9}")
    for sink in runs["old"][0]:
        old = [m[sink] for m in runs["old"] if sink in m]
        new = [m[sink] for m in runs["new"] if sink in m]
        o, n = statistics.median(x[0] for x in old), statistics.median(x[0] for x in new)
        o_raw, n_raw = statistics.median(x[1] for x in old), statistics.median(x[1] for x in new)
        print(f"{sink:<11}{o:>9,.0f}{n:>9,.0f}{n / o:>9.0%}{o / o_raw:>9.0%}{n / n_raw:>9.0%}")


if __name__ == "__main__":
    main()
