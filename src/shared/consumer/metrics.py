"""Prometheus metrics of one consumer runtime (its own registry) and its /health, /ready, /metrics server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class RuntimeMetrics:
    """Every outcome counted, labelled by sink; a registry per instance so tests can run several runtimes."""

    def __init__(self, sink: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.consumed = Counter("tradestore_consumed", "Records polled", ["sink"], registry=r).labels(sink)
        self.persisted = Counter("tradestore_persisted", "Trades written", ["sink"], registry=r).labels(sink)
        self._rejected = Counter("tradestore_rejected", "Records refused", ["sink", "reason"], registry=r)
        self._dead = Counter(
            "tradestore_dead_letters", "Records sent to the DLQ, by reason", ["sink", "reason"], registry=r
        )
        self.retries = Counter("tradestore_retries", "Store retries", ["sink"], registry=r).labels(sink)
        self.replayed = Counter(
            "tradestore_replayed", "Redelivered records already stored (not rejections)", ["sink"], registry=r
        ).labels(sink)
        self.abandoned = Counter(
            "tradestore_abandoned_batches", "Batches given up", ["sink"], registry=r
        ).labels(sink)
        self.batch_seconds = Histogram(
            "tradestore_batch_seconds", "Batch latency, poll to commit", ["sink"], registry=r
        ).labels(sink)
        self.lag = Gauge("tradestore_lag", "Records behind the high watermark", ["sink"], registry=r).labels(
            sink
        )
        self.store_up = Gauge(
            "tradestore_store_up", "1 when the store answered last", ["sink"], registry=r
        ).labels(sink)
        self.sink = sink

    def rejected(self, reason: str, n: int = 1) -> None:
        self._rejected.labels(self.sink, reason).inc(n)

    def dead_lettered(self, reason: str, n: int = 1) -> None:
        """A record went to the dead-letter topic (also counted as refused, the older name)."""
        self._rejected.labels(self.sink, reason).inc(n)
        self._dead.labels(self.sink, reason).inc(n)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when absent), for tests and the benchmark."""
        found = self.registry.get_sample_value(name, {"sink": self.sink, **labels})
        return found or 0.0


class ProbeServer:
    """GET /health (alive), /ready (200 or 503 from `ready()`), /metrics, on a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        metrics: RuntimeMetrics,
        ready: Callable[[], bool],
    ) -> None:
        """`/ready` is 200 only while `ready()` (the runtime: store reachable and a partition held, so
        "a trade posted now will be persisted"). `/ready?assigned=1`, the older spelling of that rule,
        answers the same."""
        registry = metrics.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif self.path == "/health":
                    self._send(200, b'{"status":"ok"}', "application/json")
                elif self.path in ("/ready", "/ready?assigned=1"):
                    ok = ready()
                    body = b'{"status":"ready"}' if ok else b'{"status":"not ready"}'
                    self._send(200 if ok else 503, body, "application/json")
                else:
                    self._send(404, b'{"status":"not found"}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="probe-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
