"""Run a consumer as a service: signals finish the in-flight batch, probes when METRICS_PORT is set, and the
collector tuned for a process that allocates ~10 container objects a record and keeps none (settle_heap)."""

from __future__ import annotations

import gc
import logging
import signal
from types import FrameType

from shared.consumer.runtime import ConsumerRuntime
from shared.ports import TradeWriter
from shared.settings import Settings

log = logging.getLogger("shared.consumer")
YOUNG_COLLECTION_EVERY = 10_000  # allocations between young-generation collections (CPython's default: 700)


def settle_heap(young: int = YOUNG_COLLECTION_EVERY) -> None:
    """Collect once, freeze what survives (modules, clients, settings: alive for the whole run) out of every
    later collection, and collect the young generation every `young` allocations instead of 700.

    A draining sink builds and drops ~10 tracked objects per record (trades, their dicts, tuples); with
    CPython's defaults the collector ran every ~70 records and its full collections walked every object
    of the process: 10-15% of a SQLite sink's CPU (bench/sink_drain.py, docs/performance.md session 5).
    Cycles (an exception's traceback) are still collected, just later. A process-wide setting: the service,
    not the runtime (which tests run inside pytest), makes it.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)


def serve(settings: Settings, writer: TradeWriter) -> int:
    """Run `writer`'s consumer until SIGINT/SIGTERM; the exit code."""
    runtime = ConsumerRuntime(settings, writer)
    settle_heap()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, finishing the in-flight batch", signal.Signals(signum).name)
        runtime.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if settings.metrics_port:
        port = runtime.start_probe()
        log.info("probes on :%d (/health, /ready, /metrics)", port)
    return runtime.run()
