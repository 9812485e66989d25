"""Load on the API from outside its process: wrk (single POSTs, Lua script) and a batch driver (httpx)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import httpx
import orjson

from tradestore_tools.bench.trades import batches


def wrk_single(url: str, connections: int, seconds: float, prefix: str, threads: int = 1) -> dict[str, Any]:
    """POST /trades at `connections` concurrency for `seconds` with wrk (C; one thread unless asked)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    script = resources.files("tradestore_tools.bench") / "wrk.lua"
    with resources.as_file(script) as path:
        out = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "-s",
                str(path),
                url,
                "--",
                prefix,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "connections": connections,
        "threads": threads,
        "ok": raw["ok"],
        "refused": raw["bad"] + raw["socket_errors"],
        "trades_per_s": raw["ok"] / seconds_run,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
    }


async def _post_batches(
    url: str, bodies: list[bytes], concurrency: int, sent_at: list[datetime]
) -> tuple[int, int, float]:
    queue = list(reversed(list(enumerate(bodies))))
    accepted = failed = 0
    sent_at[:] = [datetime.now(UTC)] * len(bodies)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted, failed
        while queue:
            index, body = queue.pop()
            sent_at[index] = datetime.now(UTC)
            r = await client.post(url, content=body, headers={"content-type": "application/json"})
            r.raise_for_status()
            counts = orjson.loads(r.content)["counts"]  # stdlib json costs the driver ~1.5 us a trade
            accepted += counts["accepted"]
            failed += counts["rejected"] + counts["failed"]

    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return accepted, failed, time.perf_counter() - started


def post_batches(
    base_url: str, count: int, size: int, concurrency: int, prefix: str, sent_at: list[datetime] | None = None
) -> dict[str, Any]:
    """POST /trades/batch `count` trades in batches of `size`, `concurrency` requests in flight.

    `sent_at`, when given, receives the time each batch was sent (trade n is in batch n // size).
    """
    bodies = [orjson.dumps(b) for b in batches(prefix, count, size)]
    times: list[datetime] = [] if sent_at is None else sent_at
    url = base_url + "/trades/batch"
    accepted, failed, elapsed = asyncio.run(_post_batches(url, bodies, concurrency, times))
    return {
        "trades": count,
        "batch_size": size,
        "concurrency": concurrency,
        "accepted": accepted,
        "not_accepted": failed,
        "seconds": elapsed,
        "trades_per_s": accepted / elapsed,
    }
