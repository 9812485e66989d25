"""`tradestore consume mongo|sql`: run one sink on the trades topic (compose's kafkaconsumer services)."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType
from typing import Any

from shared.consumer import ConsumerRuntime
from shared.logs import configure_logging
from shared.settings import Settings, load_settings
from shared.sink import TradeSink

log = logging.getLogger("tradestore.consume")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("consume", help="persist the trades topic into a store")
    p.add_argument("sink", choices=["mongo", "sql"], help="mongo: MONGO_URL; sql: SQL_URL")
    p.set_defaults(func=run)


def build_sink(name: str, settings: Settings) -> TradeSink:
    """The sink named on the command line; imported lazily so each needs only its own driver."""
    if name == "mongo":
        from kafkaconsumer.sink import MongoSink

        return MongoSink.from_settings(settings)
    from shared.stores.sql import SqlStore

    sink: TradeSink = SqlStore.from_settings(settings)
    return sink


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    runtime = ConsumerRuntime(settings, build_sink(args.sink, settings))

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, finishing the in-flight batch", signal.Signals(signum).name)
        runtime.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if settings.metrics_port:
        port = runtime.start_probe()
        log.info("probes on :%d (/health, /ready, /metrics)", port)
    return runtime.run()
