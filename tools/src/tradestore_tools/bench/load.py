"""Load on the API from outside its process: wrk (single POSTs, Lua script) and a batch driver (asyncio)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import orjson

from tradestore_tools.bench.trades import batches


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank); 0.0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


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


class _Connection:
    """One keep-alive HTTP/1.1 connection posting JSON bodies: the batch driver's whole client.

    httpx cost the driver ~3 us of CPU per batched trade on the two cores the API shares with it; this
    costs a fraction (one write per request, the answer read by its Content-Length). Anything but a 200
    with a Content-Length is an error, as `raise_for_status` made it.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post_json(self, body: bytes) -> bytes:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port, limit=2**24)
        reader, writer = self._streams
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + body)
        status, _, rest = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in rest.split(b"\r\n") if line)
        )
        answer = await reader.readexactly(int(headers[b"content-length"]))
        if status.split()[1] != b"200":
            raise RuntimeError(f"POST {self.path}: {status.decode()} {answer[:300]!r}")
        return answer

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()


async def _post_batches(
    url: str, bodies: list[bytes], concurrency: int, sent_at: list[datetime]
) -> tuple[int, int, float]:
    queue = list(reversed(list(enumerate(bodies))))
    accepted = failed = 0
    sent_at[:] = [datetime.now(UTC)] * len(bodies)

    async def worker(client: _Connection) -> None:
        nonlocal accepted, failed
        while queue:
            index, body = queue.pop()
            sent_at[index] = datetime.now(UTC)
            answer = await asyncio.wait_for(client.post_json(body), 120)  # a hung API fails the row
            counts = orjson.loads(answer)["counts"]
            accepted += counts["accepted"]
            failed += counts["rejected"] + counts["failed"]

    clients = [_Connection(url) for _ in range(concurrency)]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for client in clients))
        return accepted, failed, time.perf_counter() - started
    finally:
        for client in clients:
            client.close()


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
