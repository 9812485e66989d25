"""Benchmark: the API of two checkouts side by side, interleaved, in one run (issue 14 goals 1 and 2).

One embedded broker; for each round OLD then NEW then NEW then OLD ..., each checkout's API (`python -m
tradestore.cli api` with its own src/ first on PYTHONPATH, this interpreter) takes the same load:

- batch: `--batch-trades` trades as 10,000-item POST /trades/batch bodies, 2 in flight (the bench's driver);
- single: wrk, 2 threads, 16 connections, `--wrk-seconds` (no consumers: the API and the broker alone).

Printed per checkout: the median rate, CPU microseconds per trade of the API and of the broker (read from
/proc: the stable figure on a shared machine), the API's peak RSS; then NEW/OLD. Figures are printed,
never asserted.

    .venv/bin/python bench/api_compare.py --old /tmp/ingest-old [--rounds 2] [--what batch,single]
    .venv/bin/python bench/api_compare.py --old /tmp/ingest-old --spy /tmp/spy   # py-spy of NEW's API
    .venv/bin/python bench/api_compare.py --old . --new-env TRADEDATA_LINGER_MS=0  # one tree, two settings
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from tradestore.local.process import free_port
from tradestore.local.services import ServiceProcess
from tradestore_tools.bench import load
from tradestore_tools.bench.cpu import cpu_s, stat_cpu_s
from tradestore_tools.bench.facts import peak_rss_mb
from tradestore_tools.bench.stack import HOST, BenchStack, bench_stack

HERE = Path(__file__).resolve().parent.parent


def api_process(stack: BenchStack, tree: Path, name: str, extra: dict[str, str]) -> ServiceProcess:
    settings = stack.settings(stack.topic(f"cmp-{name}"))
    port = free_port()
    env = {**stack.env(settings), "TRADEDATA_PORT": str(port), "TRADEDATA_HOST": HOST}
    env.update({"PYTHONPATH": str(tree / "src"), **extra})
    return stack.start(ServiceProcess(f"api-{name}", ["api"], HOST, port, stack.workdir / name, env=env))


def measure(
    stack: BenchStack, api: ServiceProcess, run: Callable[[], dict[str, Any]], spy: Path | None
) -> dict[str, float]:
    assert api.proc is not None  # nosec B101
    pid, broker = api.proc.pid, stack.broker.proc.pid if stack.broker.proc else 0
    spy_proc = None
    if spy is not None:
        out = spy.with_suffix(".txt")
        cmd = [shutil.which("py-spy") or str(HERE / ".venv/bin/py-spy"), "record", "-p", str(pid)]
        cmd += ["-f", "raw", "-o", str(out), "-t", "--nonblocking", "-r", "200"]
        cmd += ["--gil"] if os.environ.get("SPY_GIL") else []  # only the thread holding the GIL
        spy_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # nosec B603
        time.sleep(1.0)  # py-spy attaches
    api0, broker0, threads0, me0 = cpu_s(pid), cpu_s(broker), thread_cpu(pid), time.process_time()
    found = run()
    api1, broker1, threads1, me1 = cpu_s(pid), cpu_s(broker), thread_cpu(pid), time.process_time()
    if spy_proc is not None:
        spy_proc.send_signal(2)
        spy_proc.wait(30)
    trades = found.get("accepted", found.get("ok", 0)) or 1
    return {
        "rate": found["trades_per_s"],
        "p99_ms": found.get("p99_ms", 0.0),
        "api_us": (api1 - api0) * 1e6 / trades,
        "broker_us": (broker1 - broker0) * 1e6 / trades,
        "client_us": (me1 - me0) * 1e6 / trades,  # the batch driver (wrk is another process)
        "rss_mb": peak_rss_mb(pid),
        "refused": float(found.get("refused", found.get("not_accepted", 0))),
        **{f"us_{n}": (threads1.get(n, 0) - threads0.get(n, 0)) * 1e6 / trades for n in threads1},
    }


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of `pid`, summed by thread name (librdkafka's threads are not Python's)."""
    found: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        found[name] = found.get(name, 0.0) + stat_cpu_s(task / "stat", waited=False)
    return found


class Variant(NamedTuple):
    label: str  # OLD or NEW
    tree: Path
    env: dict[str, str]


def one(
    stack: BenchStack, v: Variant, what: str, args: argparse.Namespace, spy: Path | None
) -> dict[str, float]:
    api = api_process(stack, v.tree, f"{v.label}-{what}-{time.time_ns()}", v.env)
    try:
        if what == "batch":
            load.post_batches(api.url, 20_000, 10_000, 2, f"WARM{time.time_ns()}")  # connect, metadata

            def run() -> dict[str, Any]:
                return load.post_batches(api.url, args.batch_trades, 10_000, 2, f"C{time.time_ns()}")
        else:
            load.wrk_single(api.url, 16, 1, f"WARM{time.time_ns()}", threads=2)

            def run() -> dict[str, Any]:
                return load.wrk_single(api.url, 16, args.wrk_seconds, f"C{time.time_ns()}", threads=2)

        return measure(stack, api, run, spy)
    finally:
        stack.stop(api)


def report(what: str, found: dict[str, list[dict[str, float]]], variants: list[Variant]) -> None:
    keys = ("rate", "p99_ms", "api_us", "broker_us", "client_us", "rss_mb", "refused")
    med = {t: {k: statistics.median(r[k] for r in runs) for k in keys} for t, runs in found.items()}
    print(f"\n{what}: medians of {len(found['NEW'])} runs")
    print(f"{'checkout':<40}" + "".join(f"{k:>12}" for k in keys))
    for v in variants:
        name = f"{v.label} {v.tree.name} {' '.join(f'{k}={x}' for k, x in v.env.items())}"
        print(f"{name[:39]:<40}" + "".join(f"{med[v.label][k]:>12.1f}" for k in keys))
    ratio = {k: med["NEW"][k] / med["OLD"][k] if med["OLD"][k] else 0.0 for k in keys}
    print(f"{'NEW/OLD':<40}" + "".join(f"{ratio[k]:>12.2f}" for k in keys))
    for v in variants:
        print(f"  {v.label} runs: " + ", ".join(f"{r['rate']:,.0f}/s" for r in found[v.label]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, default=HERE)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--what", default="batch,single")
    parser.add_argument("--batch-trades", type=int, default=100_000)
    parser.add_argument("--wrk-seconds", type=float, default=5.0)
    parser.add_argument("--old-env", action="append", default=[], help="NAME=VALUE for OLD's API")
    parser.add_argument("--new-env", action="append", default=[], help="NAME=VALUE for NEW's API")
    parser.add_argument("--spy", type=Path, help="py-spy the NEW API once per kind (raw samples, prefix)")
    args = parser.parse_args()
    old = Variant("OLD", args.old.resolve(), dict(e.split("=", 1) for e in args.old_env))
    new = Variant("NEW", args.new.resolve(), dict(e.split("=", 1) for e in args.new_env))
    with tempfile.TemporaryDirectory(prefix="api-compare-") as tmp, bench_stack(Path(tmp)) as stack:
        for what in args.what.split(","):
            found: dict[str, list[dict[str, float]]] = {"OLD": [], "NEW": []}
            order = [old, new, new, old] * ((args.rounds + 1) // 2)
            for i, v in enumerate(order[: 2 * args.rounds]):
                spy = (
                    args.spy.with_name(f"{args.spy.name}-{what}") if args.spy and v is new and i < 2 else None
                )
                found[v.label].append(one(stack, v, what, args, spy))
                print(f"{what} {v.label}: {found[v.label][-1]}", flush=True)
            report(what, found, [old, new])


if __name__ == "__main__":
    main()
