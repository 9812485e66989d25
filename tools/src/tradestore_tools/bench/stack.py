"""The processes a bench run needs: broker, API, MongoDB-protocol server, SQL database, consumers."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from shared.kafka import ensure_topics
from shared.settings import Settings
from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.process import ManagedProcess, free_port
from tradestore.local.services import ServiceProcess

HOST = "127.0.0.1"
P = TypeVar("P", bound=ManagedProcess)


class BenchStack:
    """Starts what it is asked for under `workdir`; `close()` stops everything it started, newest first."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[ManagedProcess] = []
        self.broker = self._start(EmbeddedBroker(HOST, free_port(), workdir / "kafka"))
        self.mongo_url: str | None = None
        self.sql_url: str | None = None

    def _start(self, proc: P, timeout_s: float = 30.0) -> P:
        proc.start(timeout_s)
        self.started.append(proc)
        return proc

    def settings(self, topic: str, **extra: object) -> Settings:
        values: dict[str, object] = {
            "kafka_bootstrap_servers": self.broker.bootstrap,
            "trades_topic": topic,
            "trades_dlq_topic": f"{topic}.dlq",
            "tradestore_env": "test",
            "tradestore_home": self.workdir / "home",
            **extra,
        }
        return Settings(**values)  # type: ignore[arg-type]

    def topic(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        ensure_topics(self.settings(name))
        return name

    def start_stores(self, postgres: bool) -> None:
        """nx-27017 and a SQL database (embedded PostgreSQL when asked and installed, else SQLite)."""
        from tradestore.local.mongo import EmbeddedMongo

        self.mongo_url = self._start(EmbeddedMongo(HOST, free_port(), self.workdir / "mongo")).url
        (self.workdir / "sql").mkdir(parents=True, exist_ok=True)  # any process may open the file first
        self.sql_url = f"sqlite:///{self.workdir / 'sql' / 'trades.db'}"
        if postgres:
            with contextlib.suppress(FileNotFoundError):
                from tradestore.local.postgres import EmbeddedPostgres

                self.sql_url = self._start(EmbeddedPostgres(HOST, free_port(), self.workdir / "pg"), 60).url

    def start(self, proc: P, timeout_s: float = 30.0) -> P:
        """Start any other process (the naive reference) and stop it with the stack."""
        return self._start(proc, timeout_s)

    def env(self, settings: Settings) -> dict[str, str]:
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "TRADES_TOPIC": settings.trades_topic,
            "TRADES_DLQ_TOPIC": settings.trades_dlq_topic,
            "TRADESTORE_ENV": "test",
            "TRADESTORE_HOME": str(settings.tradestore_home),
            "LOG_LEVEL": "WARNING",
            "MONGO_DB": settings.mongo_db,
            "CONSUMER_BATCH_SIZE": str(settings.consumer_batch_size),
            "TRADEDATA_WORKERS": str(settings.tradedata_workers),
        }
        if self.mongo_url:
            env["MONGO_URL"] = self.mongo_url
        if self.sql_url:
            env["SQL_URL"] = self.sql_url
        return env

    def api(self, settings: Settings) -> ServiceProcess:
        port = free_port()
        env = {**self.env(settings), "TRADEDATA_PORT": str(port), "TRADEDATA_HOST": HOST}
        return self._start(ServiceProcess("api", ["api"], HOST, port, self.workdir / "api", env=env))

    def consumer(self, sink: str, settings: Settings) -> ServiceProcess:
        port = free_port()
        env = {
            **self.env(settings),
            "METRICS_PORT": str(port),
            "CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
        }
        # ready once it holds its partitions, so the drain is timed without the group join
        proc = ServiceProcess(
            f"consume-{sink}", ["consume", sink], HOST, port, self.workdir / sink, env, "/ready?assigned=1"
        )
        return self._start(proc, 60)

    def cpu_roots(self, *procs: ManagedProcess) -> dict[str, int | None]:
        """The processes whose CPU a measurement reports, by name: `procs` and the stack's own (broker,
        stores, anything else it started), each the root of its process tree."""
        found = {p.name: p.proc.pid if p.proc else None for p in procs}
        return found | {p.name: p.proc.pid for p in self.started if p.proc and p not in procs}

    def stop(self, proc: ManagedProcess) -> None:
        proc.stop()
        if proc in self.started:
            self.started.remove(proc)

    def close(self) -> None:
        for proc in reversed(self.started):
            with contextlib.suppress(Exception):
                proc.stop()
        self.started.clear()


@contextlib.contextmanager
def bench_stack(workdir: Path) -> Iterator[BenchStack]:
    stack = BenchStack(workdir)
    try:
        yield stack
    finally:
        stack.close()
