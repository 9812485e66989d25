"""The local stack behind `tradestore up`: embedded services plus TradeStore's own, supervised.

Supervision policy: fail fast. If any part dies, the stack stops the others in order and exits
non-zero, naming the part and the tail of its log: a silent half-running pipeline is worse.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from shared.settings import Settings
from tradestore.embedded.kafka import EmbeddedBroker
from tradestore.embedded.process import ManagedProcess, port_open
from tradestore.embedded.services import ServiceProcess

log = logging.getLogger("tradestore.stack")


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "127.0.0.1", int(port) if port else default_port)


class Stack:
    """Start parts in dependency order, report ready when all are, stop in reverse order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.tradestore_home.resolve()
        self.parts: list[ManagedProcess] = []
        self._stop = threading.Event()

    def _start(self, part: ManagedProcess, timeout_s: float = 30.0) -> None:
        t0 = time.monotonic()
        part.start(timeout_s)
        self.parts.append(part)
        log.info("%s ready on %s:%d (%.1fs)", part.name, part.host, part.port, time.monotonic() - t0)

    def start(self) -> None:
        cfg = self.settings
        host, port = _host_port(cfg.kafka_bootstrap_servers.split(",")[0], 9092)
        if port_open(host, port):
            log.info("using the Kafka broker already listening on %s:%d", host, port)
        else:
            self._start(EmbeddedBroker(host, port, self.home / "logs"))
        api = ServiceProcess("tradedata", ["api"], "127.0.0.1", cfg.tradedata_port, self.home / "logs")
        self._start(api)

    def stop(self) -> None:
        """Stop parts in reverse order of start (the API first, the broker last)."""
        for part in reversed(self.parts):
            log.info("stopping %s", part.name)
            part.stop()
        self.parts.clear()

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self._stop.set()

    def run_foreground(self) -> int:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        t0 = time.monotonic()
        try:
            self.start()
            self._print_banner(time.monotonic() - t0)
            while not self._stop.wait(0.5):
                dead = [p for p in self.parts if not p.alive()]
                if dead:
                    for part in dead:
                        log.error(
                            "%s died; stopping the stack. Last log lines:\n%s", part.name, part.log_tail()
                        )
                    return 1
            return 0
        except (RuntimeError, TimeoutError) as exc:
            log.error("stack failed to start: %s", exc)
            return 1
        finally:
            self.stop()

    def _print_banner(self, seconds: float) -> None:
        cfg = self.settings
        print(
            f"TradeStore ready in {seconds:.1f}s\n"
            f"  Kafka      {cfg.kafka_bootstrap_servers} (topic {cfg.trades_topic})\n"
            f"  TradeData  http://127.0.0.1:{cfg.tradedata_port}  (docs: /docs)\n"
            f"  logs       {self.home / 'logs'}\n"
            f"Post a trade:\n"
            f"  curl -X POST localhost:{cfg.tradedata_port}/trades -H 'content-type: application/json' "
            '-d \'{"trade_id":"T-1001","counterparty_id":"CP-1","book_id":"B-1","version":1,'
            '"maturity_date":"2026-01-15","created_date":"2025-09-28","expired":false}\'\n'
            "Ctrl-C stops it.",
            flush=True,
        )
