"""Average and p99 POST-to-ack latency of single POST /trades on the embedded broker (seed: < 250 ms avg).

A standalone program: starts Tansu and `tradestore api` as child processes, sends N sequential POSTs
from this process over one keep-alive connection, prints the figures. `python bench/publish_latency.py [N]`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tradestore_tools.bench.stack import bench_stack
from tradestore_tools.bench.trades import trade


def main(count: int = 1000) -> int:
    with tempfile.TemporaryDirectory() as tmp, bench_stack(Path(tmp)) as stack:
        api = stack.api(stack.settings(stack.topic("latency")))
        latencies: list[float] = []
        with httpx.Client(base_url=api.url, timeout=10) as http:
            for n in range(count):
                started = time.perf_counter()
                r = http.post("/trades", json=trade("LAT", n))
                latencies.append((time.perf_counter() - started) * 1000)
                if r.status_code != 201:
                    print(f"POST {n} answered {r.status_code}: {r.text}", file=sys.stderr)
                    return 1
    latencies.sort()
    avg = statistics.fmean(latencies)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    p50 = latencies[len(latencies) // 2]
    verdict = "met" if avg < 250 else "MISSED"
    print(f"{count} POSTs acknowledged by the broker: average {avg:.2f} ms, p50 {p50:.2f} ms,")
    print(f"p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms (seed target average < 250 ms: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
