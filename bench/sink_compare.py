"""Benchmark: the sinks of two checkouts side by side, interleaved, in one run (issue 11: "the benchmark
figures do not regress"; issue 14 goal 3).

Runs bench/sink_drain.py (one program that runs either checkout's code) for MongoDB (nx-27017), SQLite
and PostgreSQL, OLD then NEW then NEW then OLD ..., so the machine's noise (2 cores shared with other
work) falls on both alike, and prints per sink the median drain rate of each, NEW/OLD, and the median CPU
each trade cost in the store's server, the broker and the consumer. A program, not a test: figures are
printed, never asserted.

    .venv/bin/python bench/sink_compare.py --old /tmp/before [--rounds 3] [--trades 10000]

Each checkout runs with its own src/ first on PYTHONPATH and this interpreter (OLD's lock may no longer
install).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"drain (\w+) trades/s=(\d+) cpu_us_per_trade: store=(\S+) broker=(\S+) consumer=(\S+)"
    r" wall_s=\S+ code=(\S+)(?: raw/s=(\d+) ratio=\S+)?"
)
KINDS = ("mongo", "sqlite", "postgresql")


def drain(tree: Path, kind: str, trades: int, batch: int, raw: bool = False) -> dict[str, float]:
    """One drain of `kind` by checkout `tree`: rate, CPU microseconds per trade (and the raw rate)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    args = [sys.executable, str(HERE / "bench" / "sink_drain.py"), kind, "--trades", str(trades)]
    args += ["--raw"] if raw else []
    done = subprocess.run(  # our own interpreter and program
        [*args, "--batch", str(batch)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    found = LINE.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{tree}: sink_drain {kind} exited {done.returncode}:\n{done.stderr[-2000:]}")
    if Path(found.group(6)) != tree / "src":
        raise RuntimeError(f"{tree}: the drain ran the code in {found.group(6)}")
    names = ("rate", "store", "broker", "consumer")
    out = {n: float(v) for n, v in zip(names, found.group(2, 3, 4, 5), strict=True)}
    if found.group(7):
        out["raw"] = float(found.group(7))
        out["ratio"] = out["rate"] / out["raw"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", type=Path, required=True, help="the other checkout (e.g. /tmp/before)")
    parser.add_argument("--new", type=Path, default=HERE, help="this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="CONSUMER_BATCH_SIZE (Settings' default)")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--raw", action="store_true", help="each drain also measures its store's raw rate")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for r in range(args.rounds):
        order = [("old", args.old), ("new", args.new)]
        for label, tree in order if r % 2 == 0 else order[::-1]:
            for kind in kinds:
                m = drain(tree.resolve(), kind, args.trades, args.batch, args.raw)
                runs.setdefault((kind, label), []).append(m)
                raw = f"  raw {m['raw']:,.0f}/s sink/raw {m['ratio']:.0%}" if "raw" in m else ""
                print(
                    f"round {r + 1} {label:<3} {kind:<10} {m['rate']:>7,.0f}/s  cpu us/trade: store "
                    f"{m['store']:.0f} broker {m['broker']:.0f} consumer {m['consumer']:.0f}{raw}",
                    flush=True,
                )
    print(f"\nmedians of {args.rounds} interleaved rounds, {args.trades} trades, batch {args.batch}")
    print(f"{'sink':<11}{'old /s':>8}{'new /s':>8}{'new/old':>8}   cpu us/trade old -> new")
    for kind in kinds:
        old, new = runs[(kind, "old")], runs[(kind, "new")]

        def med(ms: list[dict[str, float]], name: str) -> float:
            return statistics.median(m[name] for m in ms)

        cpu = "  ".join(
            f"{n} {med(old, n):.0f} -> {med(new, n):.0f}" for n in ("store", "broker", "consumer")
        )
        o, n = med(old, "rate"), med(new, "rate")
        ratios = ""
        if args.raw:
            ratios = f"   sink/raw old {med(old, 'ratio'):.0%} new {med(new, 'ratio'):.0%}"
        print(f"{kind:<11}{o:>8,.0f}{n:>8,.0f}{n / o:>8.0%}   {cpu}{ratios}")


if __name__ == "__main__":
    main()
