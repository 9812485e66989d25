"""The local stack behind `tradestore up`: embedded services plus TradeStore's own, supervised.

Start order: Kafka (Tansu) -> MongoDB protocol (nx-27017) -> SQL schema -> topics -> TradeData API ->
both consumers -> expiry job. A service already listening at a configured local address is used as
is; a remote address is never replaced by an embedded one.

Stop order (Ctrl-C, SIGTERM): the API first (no new 201s), then both consumers drain what the broker
holds (read from their committed offsets until nothing is left), then the consumers, the stores and
the broker stop. No trade that got a 201 is lost on a clean stop.

Supervision policy: fail fast. If any part dies, the stack stops the others in order and exits 1,
naming the part and the tail of its log: a silently half-running pipeline is worse than a loud stop.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from urllib.parse import urlsplit

from shared.kafka import client_config, ensure_topics
from shared.settings import Settings
from tradestore.expiry import ExpiryScheduler
from tradestore.local.drain import unread
from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.mongo import EmbeddedMongo
from tradestore.local.process import ManagedProcess, free_port, port_open
from tradestore.local.services import ServiceProcess
from tradestore.local.status import LagStatus
from tradestore.stores import open_readers

log = logging.getLogger("tradestore.local.stack")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - compared, never bound
SINKS = (("kafkaconsumer", "mongo"), ("kafkaconsumermssql", "sql"))


def host_port(address: str, default_port: int) -> tuple[str, int]:
    """`host:port` (or a URL's netloc) as a pair."""
    netloc = urlsplit(address).netloc if "://" in address else address
    netloc = netloc.rsplit("@", 1)[-1].split(",")[0].split("/")[0]
    host, _, port = netloc.rpartition(":")
    return (host or netloc or "127.0.0.1", int(port) if port.isdigit() else default_port)


class Stack:
    """Start parts in dependency order, report ready when all are, stop in the order above."""

    def __init__(self, settings: Settings, drain_timeout_s: float = 60.0) -> None:
        self.settings = settings
        self.home = settings.tradestore_home.resolve()
        self.logs = self.home / "logs"
        self.drain_timeout_s = drain_timeout_s
        self.infra: list[ManagedProcess] = []
        self.api: ServiceProcess | None = None
        self.consumers: list[ServiceProcess] = []
        self.expiry: ExpiryScheduler | None = None
        self.stop_requested = threading.Event()

    # ---- start -------------------------------------------------------------------------------
    def _embedded(self, part: ManagedProcess, what: str) -> None:
        if port_open(part.host, part.port):
            log.info("using the %s already listening on %s:%d", what, part.host, part.port)
            return
        if part.host not in LOCAL_HOSTS:
            raise RuntimeError(f"{what} at {part.host}:{part.port} is unreachable")
        t0 = time.monotonic()
        part.start()
        self.infra.append(part)
        log.info("%s (embedded) ready on %s:%d in %.1fs", what, part.host, part.port, time.monotonic() - t0)

    def child_env(self) -> dict[str, str]:
        """The stack's settings, resolved once here, as every child process's environment."""
        return {**self.settings.to_env(), "TRADESTORE_HOME": str(self.home)}

    def start(self) -> None:
        cfg = self.settings
        self.logs.mkdir(parents=True, exist_ok=True)
        host, port = host_port(cfg.kafka_bootstrap_servers, 9092)
        self._embedded(EmbeddedBroker(host, port, self.logs), "Kafka broker")
        host, port = host_port(cfg.mongo_url_value, 27017)
        self._embedded(EmbeddedMongo(host, port, self.home / "mongo"), "MongoDB-protocol server")
        self._migrate()
        ensure_topics(cfg)
        env = self.child_env()
        ports = {sink: free_port() for _, sink in SINKS}
        # The console (/console) shows each sink's readiness and counters from its probe server.
        sinks = ",".join(f"{sink}=http://127.0.0.1:{port}" for sink, port in ports.items())
        api_env = {"TRADEDATA_CONSOLE_SINKS": sinks, **env}
        self.api = ServiceProcess("tradedata", ["api"], "127.0.0.1", cfg.tradedata_port, self.logs, api_env)
        self.api.start(timeout_s=30)
        for name, sink in SINKS:
            port = ports[sink]
            # Static membership: a restarted consumer takes its old place in the group at once. Tansu
            # otherwise stalls a group whose member left during a join (measured: no assignment in 40 s).
            child = {
                **env,
                "METRICS_PORT": str(port),
                "CONSUMER_INSTANCE_ID": f"{name}-{socket.gethostname()}",
            }
            self.consumers.append(
                ServiceProcess(
                    name,
                    ["consume", sink],
                    "127.0.0.1",
                    port,
                    self.logs,
                    child,
                    ready_path="/ready?assigned=1",
                )
            )
        # Both join their groups at once; ready means assigned, so a trade posted now is persisted now.
        with ThreadPoolExecutor(len(self.consumers)) as pool:
            for done in [pool.submit(c.start, 60) for c in self.consumers]:
                done.result()
        self.expiry = ExpiryScheduler(open_readers(self.settings))
        self.expiry.start()

    def _migrate(self) -> None:
        from shared.stores.sql.engine import make_engine
        from shared.stores.sql.migrate import migrate

        engine = make_engine(self.settings.sql_url_value)
        try:
            migrate(engine, timeout_s=30)
        finally:
            engine.dispose()

    # ---- stop --------------------------------------------------------------------------------
    def drain(self) -> bool:
        """Wait until both consumer groups have nothing left to read; False if the deadline passed."""
        config = client_config(self.settings)
        deadline = time.monotonic() + self.drain_timeout_s
        groups = [self.settings.consumer_group or f"tradestore-{sink}" for _, sink in SINKS]
        while time.monotonic() < deadline:
            if not all(c.alive() for c in self.consumers):
                return False
            left = {g: unread(config, g, self.settings.trades_topic) for g in groups}
            if not any(left.values()):
                return True
            log.info("draining: %s", ", ".join(f"{g} has {n}+ unread" for g, n in left.items()))
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        if self.api is not None:
            log.info("stopping tradedata (no new trades accepted)")
            self.api.stop()
            self.api = None
        if self.consumers:
            drained = self.drain()
            log.info("consumers drained" if drained else "consumers did NOT drain before the deadline")
        for consumer in reversed(self.consumers):
            log.info("stopping %s", consumer.name)
            consumer.stop(timeout_s=30)
        self.consumers.clear()
        if self.expiry is not None:
            self.expiry.stop()
            for reader in self.expiry.readers:
                reader.close()
            self.expiry = None
        for part in reversed(self.infra):
            log.info("stopping %s", part.name)
            part.stop()
        self.infra.clear()

    # ---- foreground --------------------------------------------------------------------------
    def parts(self) -> list[ManagedProcess]:
        return [*self.infra, *([self.api] if self.api else []), *self.consumers]

    def dead_parts(self) -> list[ManagedProcess]:
        return [p for p in self.parts() if not p.alive()]

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stop_requested.set()

    def run_foreground(self) -> int:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        t0 = time.monotonic()
        try:
            self.start()
            print(self.banner(time.monotonic() - t0), flush=True)
            status = LagStatus(self.settings, lambda line: print(line, flush=True))
            while not self.stop_requested.wait(0.5):
                status.tick()
                dead = self.dead_parts()
                if dead:
                    for part in dead:
                        log.error(
                            "%s died; stopping the stack. Its last log lines:\n%s", part.name, part.log_tail()
                        )
                    return 1
            return 0
        except (RuntimeError, TimeoutError, OSError) as exc:
            log.error("the stack failed to start: %s", exc)
            return 1
        finally:
            self.stop()
            print("TradeStore stopped.", flush=True)

    def banner(self, seconds: float) -> str:
        cfg = self.settings
        lines = [f"TradeStore ready in {seconds:.1f}s"]
        mongo_host, mongo_port = host_port(cfg.mongo_url_value, 27017)
        topics = f"{cfg.trades_topic}, {cfg.trades_dlq_topic}"
        lines.append(f"  Kafka              {cfg.kafka_bootstrap_servers}  topics {topics}")
        lines.append(f"  MongoDB            {mongo_host}:{mongo_port}  {cfg.mongo_db}.{cfg.mongo_collection}")
        lines.append(f"  SQL                {self._sql_location()}")
        lines.append(f"  TradeData          http://127.0.0.1:{cfg.tradedata_port}  (docs: /docs)")
        lines.extend(f"  {c.name:<18} metrics http://127.0.0.1:{c.port}/metrics" for c in self.consumers)
        lines.append(
            "  lag                printed below when it changes (tradestore_consumer_lag on /metrics)"
        )
        lines.append(f"  logs               {self.logs}")
        lines.append("Post a trade:")
        lines.append(
            f"  curl -X POST localhost:{cfg.tradedata_port}/trades -H 'content-type: application/json' "
            '-d \'{"trade_id":"T-1001","counterparty_id":"CP-1","book_id":"B-1","version":1,'
            '"maturity_date":"2026-01-15","created_date":"2025-09-28","expired":false}\''
        )
        lines.append(f"  curl localhost:{cfg.tradedata_port}/trades/T-1001")
        lines.append("Ctrl-C stops it (after the consumers drain).")
        return "\n".join(lines)

    def _sql_location(self) -> str:
        from shared.redact import redact_url

        return redact_url(self.settings.sql_url_value)
