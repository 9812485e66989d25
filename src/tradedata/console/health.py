"""Pipeline health for the console: the sinks' probes and counters, sampled into short time series.

Each sink's probe server (METRICS_PORT) is named by TRADEDATA_CONSOLE_SINKS. A sampler thread reads
their /metrics every SAMPLE_EVERY_S while the console is used, so the page can draw throughput over the
last minutes; the series live in this process only (each API worker keeps its own).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import Settings

SAMPLE_EVERY_S = 5.0
KEEP_SAMPLES = 120  # ten minutes
COUNTERS = {
    "persisted": "tradestore_persisted_total",
    "consumed": "tradestore_consumed_total",
    "dead_lettered": "tradestore_dead_letters_total",
}


def sink_urls(settings: Settings) -> dict[str, str]:
    """TRADEDATA_CONSOLE_SINKS as {name: base url}; malformed pairs are ignored."""
    pairs = (p.strip().partition("=") for p in (settings.tradedata_console_sinks or "").split(","))
    return {name.strip(): url.strip().rstrip("/") for name, sep, url in pairs if sep and name and url}


@dataclass(frozen=True)
class SinkStatus:
    name: str
    url: str
    ready: bool | None  # None: unreachable
    counters: dict[str, float] = field(default_factory=dict)


def counters_of(text: str) -> dict[str, float]:
    """Totals of the sink counters in a Prometheus exposition (summed over labels)."""
    totals = dict.fromkeys(COUNTERS, 0.0)
    wanted = {sample: name for name, sample in COUNTERS.items()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                totals[wanted[sample.name]] += sample.value
    return totals


def probe(name: str, url: str, timeout_s: float = 2.0) -> SinkStatus:
    try:
        with httpx.Client(timeout=timeout_s) as client:
            ready = client.get(f"{url}/ready").status_code == 200
            counters = counters_of(client.get(f"{url}/metrics").text)
    except httpx.HTTPError:
        return SinkStatus(name, url, None)
    return SinkStatus(name, url, ready, counters)


class Sampler:
    """Counter samples of every sink; `rates(name, counter)` gives per-second rates between samples."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.samples: deque[tuple[float, dict[str, SinkStatus]]] = deque(maxlen=KEEP_SAMPLES)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def sample(self) -> dict[str, SinkStatus]:
        """Probe every sink now; kept as a sample unless the last one is under a second old."""
        statuses = {name: probe(name, url) for name, url in self.urls.items()}
        now = time.monotonic()
        with self._lock:
            if not self.samples or now - self.samples[-1][0] >= 1.0:
                self.samples.append((now, statuses))
        return statuses

    def ensure_running(self) -> None:
        """Start the background sampler once (a daemon thread: it ends with the process)."""
        with self._lock:
            if self._thread is not None or not self.urls:
                return
            self._thread = threading.Thread(target=self._loop, name="console-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._closed.wait(SAMPLE_EVERY_S):  # a pacing interval that ends at close()
            self.sample()

    def close(self) -> None:
        """Stop the background sampler (the app's lifespan calls it at shutdown)."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def rates(self, name: str, counter: str) -> list[float]:
        with self._lock:
            points = [(t, s[name].counters.get(counter)) for t, s in self.samples if name in s]
        known = [(t, v) for t, v in points if v is not None]
        return [max(0.0, (v2 - v1) / (t2 - t1)) for (t1, v1), (t2, v2) in pairwise(known) if t2 > t1]

    def recent_rate(self, name: str, counter: str, window_s: float = 30.0) -> float:
        """Per-second rate of `counter` over the samples of the last `window_s` seconds."""
        with self._lock:
            start = time.monotonic() - window_s
            points = [(t, s[name].counters.get(counter)) for t, s in self.samples if name in s and t >= start]
        known = [(t, v) for t, v in points if v is not None]
        if len(known) < 2 or known[-1][0] <= known[0][0]:
            return 0.0
        return max(0.0, (known[-1][1] - known[0][1]) / (known[-1][0] - known[0][0]))
