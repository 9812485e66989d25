"""Issue 14's headline rows, side by side in one run: the naive reference and TradeStore under the same
wrk load (2 threads, 16 connections, a unique trade per request) with their consumers running, and the
time until the trades of TradeStore's run are in both stores (end to end)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from tradestore.local.services import ServiceProcess
from tradestore_tools.bench import load
from tradestore_tools.bench.cpu import CpuSplit
from tradestore_tools.bench.stack import HOST, BenchStack
from tradestore_tools.bench.stores import BenchStore, wait_for_count


class NaiveProcess(ServiceProcess):
    """`python -m tradestore_tools.bench.naive ARGS`; the API is ready on /health, a consumer at once."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tradestore_tools.bench.naive", *self.args]

    def wait_ready(self, timeout_s: float) -> None:
        if self.args[0] == "api":
            super().wait_ready(timeout_s)
        elif self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")


def naive_row(stack: BenchStack, seconds: float, tag: str) -> dict[str, Any]:
    """wrk on the naive API (its one-message-at-a-time consumers writing to both stores meanwhile)."""
    from tradestore.local.process import free_port

    topic = stack.topic("bench-naive")
    bootstrap = stack.broker.bootstrap
    workdir = stack.workdir / "naive"
    procs = []
    sinks = {kind: url for kind, url in (("mongo", stack.mongo_url), ("sql", stack.sql_url)) if url}
    try:
        for kind, url in sinks.items():
            args = ["consume", kind, url, bootstrap, topic]
            procs.append(stack.start(NaiveProcess(f"naive-{kind}", args, HOST, 0, workdir)))
        port = free_port()
        args = ["api", str(port), bootstrap, topic]
        api = stack.start(NaiveProcess("naive-api", args, HOST, port, workdir, None, "/health"))
        procs.append(api)
        with CpuSplit(stack.cpu_roots(*procs)) as split:
            result = load.wrk_single(api.url, 16, seconds, f"N{tag}", threads=2)
        # the consumers were running: each has written trades of this run (a reference whose consumers sat
        # idle would be measured without the load it is meant to carry, and say nothing)
        result["stored_by_consumers"] = _written(sinks, topic, procs)
    finally:
        for proc in procs:
            stack.stop(proc)
    result["design"] = "FastAPI + pydantic + kafka-python send().get(); consumers: one write per message"
    result["cpu"] = split.row(result["ok"])
    return result


def _written(
    sinks: dict[str, str], topic: str, procs: list[NaiveProcess], timeout_s: float = 30.0
) -> dict[str, int]:
    """Trades each naive consumer had written by the end of the run (waiting for a first one, at most
    `timeout_s`); RuntimeError when a consumer wrote nothing or died."""
    from tradestore_tools.bench.naive import stored

    found = {kind: stored(kind, url, topic) for kind, url in sinks.items()}
    deadline = time.monotonic() + timeout_s
    while not all(found.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
        found = {kind: n or stored(kind, sinks[kind], topic) for kind, n in found.items()}
    dead = [p.name for p in procs if p.proc is not None and p.proc.poll() is not None]
    idle = [kind for kind, n in found.items() if not n]
    if dead or idle:
        raise RuntimeError(f"naive reference: consumers {dead or idle} wrote nothing (see their logs)")
    return found


def tradestore_rows(
    stack: BenchStack, seconds: float, tag: str, store_of: Callable[[str, str], BenchStore], batch: int
) -> dict[str, dict[str, Any]]:
    """wrk on TradeStore's API with both consumers running; then until every accepted trade is stored."""
    db = f"wrk_{tag}"
    settings = stack.settings(stack.topic("bench-wrk"), mongo_db=db, consumer_batch_size=batch)
    stores = [store_of(n, db) for n in ("mongo", "sql")]
    consumers = [stack.consumer(n, settings) for n in ("mongo", "sql")]
    api = stack.api(settings)
    try:
        started = time.perf_counter()
        with CpuSplit(stack.cpu_roots(api, *consumers)) as split:
            single = load.wrk_single(api.url, 16, seconds, f"W{tag}", threads=2)
        single["cpu"] = split.row(single["ok"])
        lasts = [wait_for_count(store, single["ok"], 600)[1] for store in stores]
        elapsed = max(lasts) - started
    finally:
        for proc in (api, *consumers):
            stack.stop(proc)
    e2e = {
        "trades": single["ok"],
        "seconds": elapsed,
        "trades_per_s": single["ok"] / max(elapsed, 1e-6),
        "note": "wrk start -> the last of its accepted trades present in both stores",
    }
    return {"single_wrk": single, "e2e_wrk": e2e}
