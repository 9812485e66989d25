"""Run a consumer as a service: signals finish the in-flight batch, probes when METRICS_PORT is set."""

from __future__ import annotations

import logging
import signal
from types import FrameType

from shared.consumer.runtime import ConsumerRuntime
from shared.ports import TradeWriter
from shared.settings import Settings

log = logging.getLogger("shared.consumer")


def serve(settings: Settings, writer: TradeWriter) -> int:
    """Run `writer`'s consumer until SIGINT/SIGTERM; the exit code."""
    runtime = ConsumerRuntime(settings, writer)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, finishing the in-flight batch", signal.Signals(signum).name)
        runtime.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if settings.metrics_port:
        port = runtime.start_probe()
        log.info("probes on :%d (/health, /ready, /metrics)", port)
    return runtime.run()
