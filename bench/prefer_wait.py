"""What `Prefer: wait` adds to POST /trades: p50 and p99 with and without it, on the embedded stack.

A standalone program: starts the whole local stack (broker, nx-27017, SQLite, API, both consumers) as
`tradestore up` does, or uses the stack TRADEDATA_URL names; sends N sequential POSTs without the header
and N with `Prefer: wait=5` (distinct trades, one keep-alive connection each) and prints the figures.
`python bench/prefer_wait.py [N]` (CONSUMER_BATCH_TIMEOUT_MS applies to the stack it starts).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr

from shared.settings import Settings
from tradestore.local.process import free_port
from tradestore.local.stack import Stack


def _trade(prefix: str, n: int) -> dict[str, object]:
    return {
        "trade_id": f"{prefix}-{n}",
        "counterparty_id": "CP-1",
        "book_id": "B-1",
        "version": 1,
        "maturity_date": "2030-01-15",
        "created_date": "2025-09-28",
    }


def _measure(url: str, count: int, headers: dict[str, str], want: int) -> list[float]:
    prefix = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        for n in range(count):
            started = time.perf_counter()
            r = http.post("/trades", json=_trade(prefix, n))
            latencies.append((time.perf_counter() - started) * 1000)
            if r.status_code != want:
                raise SystemExit(f"POST {n} answered {r.status_code} (expected {want}): {r.text}")
    return sorted(latencies)


def _figures(latencies: list[float]) -> tuple[float, float, float]:
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return p50, p99, statistics.fmean(latencies)


def _run(url: str, count: int) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    _measure(url, 20, {"Prefer": "wait=5"}, 201)  # warm-up: the API's outcome reader starts here
    plain = _figures(_measure(url, count, {}, 201))
    return plain, _figures(_measure(url, count, {"Prefer": "wait=5"}, 201))


def main(count: int = 300) -> int:
    if os.environ.get("TRADEDATA_URL"):
        plain, waited = _run(os.environ["TRADEDATA_URL"], count)
        _report(count, plain, waited)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            tradestore_home=Path(tmp),
            kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
            mongo_url=SecretStr(f"mongodb://127.0.0.1:{free_port()}"),
            tradedata_port=free_port(),
            tradestore_env="test",
            consumer_batch_timeout_ms=int(os.environ.get("CONSUMER_BATCH_TIMEOUT_MS", "100")),
        )
        stack = Stack(settings, drain_timeout_s=30)
        try:
            stack.start()
            plain, waited = _run(settings.api_url, count)
        finally:
            stack.stop()
    _report(count, plain, waited)
    return 0


def _report(count: int, plain: tuple[float, float, float], waited: tuple[float, float, float]) -> None:
    print(f"{count} sequential POST /trades each, embedded stack (Tansu, nx-27017, SQLite, both consumers)")
    print(f"  without Prefer:       p50 {plain[0]:7.2f} ms  p99 {plain[1]:7.2f} ms  mean {plain[2]:7.2f} ms")
    print(
        f"  Prefer: wait=5 (201): p50 {waited[0]:7.2f} ms  p99 {waited[1]:7.2f} ms  mean {waited[2]:7.2f} ms"
    )
    print(f"  added by waiting:     p50 {waited[0] - plain[0]:7.2f} ms  p99 {waited[1] - plain[1]:7.2f} ms")


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
