"""The pipeline wired for faults: every link a fault can cut goes through a proxy or relay we control.

    API ------+                           +--> FaultProxy "api link" -------+
              +--> KafkaRelay (advertised)|                                 +--> Tansu broker (memory)
    consumers +   routes by client id     +--> FaultProxy "consumer link" --+
    kafkaconsumer      --> FaultProxy (latency) --> nx-27017 (SQLite files, survives restarts)
    kafkaconsumermssql --> FaultProxy (latency) --> PostgreSQL (data dir survives restarts)

The broker advertises the relay's address, so clients reconnect through it after any fault. The relay
routes on the client id each service gives its Kafka clients (`tradedata`, `kafkaconsumer-...`); any
other client (topic creation, drain checks) goes straight to the broker. All ports
are free ports picked at start, never `tradestore up`'s fixed ones.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psycopg
from pydantic import SecretStr

from shared.kafka import ensure_topics
from shared.settings import Settings
from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.mongo import EmbeddedMongo
from tradestore.local.postgres import EmbeddedPostgres
from tradestore.local.process import ManagedProcess, free_port
from tradestore.local.services import ServiceProcess
from tradestore_tools.chaos.fleet import instance_name, new_instance
from tradestore_tools.chaos.relay import KafkaRelay
from tradestore_tools.faults.proxy import FaultProxy, Target

LOCAL = "127.0.0.1"
Strategy = Literal["range", "roundrobin", "cooperative-sticky"]
SINKS = (("kafkaconsumer", "mongo"), ("kafkaconsumermssql", "sql"))
API_CLIENT_ID = "tradedata"  # client.id prefixes of the API's and the consumers' Kafka clients
CONSUMER_CLIENT_ID = "kafkaconsumer"  # also the prefix of kafkaconsumermssql-<instance>


@dataclass
class Topology:
    """Start with `start()`, stop with `stop()` (always, in `finally`)."""

    workdir: Path
    publish_timeout_s: float = 5.0
    instances: int = 3  # static members per sink
    api_count: int = 2  # API processes, the load spread over them
    partitions: int = 12  # of the trades topic: room for every instance plus a joiner
    static: bool = True  # static members (CONSUMER_INSTANCE_ID); False: dynamic membership
    strategy: Strategy | None = None  # CONSUMER_ASSIGNMENT_STRATEGY of every instance (None: default)
    broker: EmbeddedBroker | None = None
    mongo: EmbeddedMongo | None = None
    postgres: EmbeddedPostgres | None = None
    apis: list[ServiceProcess] = field(default_factory=list)
    consumers: dict[str, ServiceProcess] = field(default_factory=dict)  # "<role>-<i>" -> static member
    joiners: dict[str, ServiceProcess] = field(default_factory=dict)  # new-id members (churn faults)
    api_link: FaultProxy | None = None
    consumer_link: FaultProxy | None = None
    broker_relay: KafkaRelay | None = None
    store_links: dict[str, FaultProxy] = field(default_factory=dict)
    settings: Settings | None = None  # what the clients use (addresses through the relays)
    direct: Settings | None = None  # the same stores, reached directly (verification, migration)

    def start(self) -> None:
        logs = self.workdir / "logs"
        broker_port = free_port()
        self.api_link = FaultProxy(LOCAL, broker_port).start()
        self.consumer_link = FaultProxy(LOCAL, broker_port).start()
        default: Target = (LOCAL, broker_port)  # tools (drain checks, topic creation) go straight through
        routes = {
            API_CLIENT_ID: (LOCAL, self.api_link.port),
            CONSUMER_CLIENT_ID: (LOCAL, self.consumer_link.port),
        }
        self.broker_relay = KafkaRelay(routes, default).start()
        self.broker = EmbeddedBroker(LOCAL, broker_port, logs, advertised_port=self.broker_relay.port)
        self.broker.start()
        self.mongo = EmbeddedMongo(LOCAL, free_port(), self.workdir / "mongo")
        self.mongo.start()
        self.postgres = EmbeddedPostgres(LOCAL, free_port(), self.workdir / "postgres")
        self.postgres.start()
        with psycopg.connect(self.postgres.url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE DATABASE chaos")
        self.store_links = {
            "mongo": FaultProxy(LOCAL, self.mongo.port).start(),
            "sql": FaultProxy(LOCAL, self.postgres.port).start(),
        }
        api_port = free_port()
        self.direct = self._settings(api_port, self.mongo.url, self.postgres.url_for("chaos"))
        sql_link = self.postgres.url_for("chaos").replace(
            f":{self.postgres.port}/", f":{self.store_links['sql'].port}/"
        )
        mongo_link = f"mongodb://{LOCAL}:{self.store_links['mongo'].port}"
        self.settings = self._settings(api_port, mongo_link, sql_link)
        self._migrate()
        ensure_topics(self.direct)
        self._start_services(logs)

    def _start_services(self, logs: Path) -> None:
        """The API processes, then every sink's static members, all started at once."""
        assert self.settings is not None
        env = self.settings.to_env()
        self.apis = [
            ServiceProcess(f"tradedata-{i}", ["api"], LOCAL, port, logs, {**env, "TRADEDATA_PORT": str(port)})
            for i, port in enumerate(
                [self.settings.tradedata_port] + [free_port() for _ in range(1, self.api_count)], 1
            )
        ]
        for name, sink in SINKS:
            for i in range(1, self.instances + 1):
                member = instance_name(name, i)
                self.consumers[member] = new_instance(name, sink, member, env, logs, self.static)
        with ThreadPoolExecutor(max_workers=len(self.apis) + len(self.consumers)) as pool:
            starting = [pool.submit(api.start, 60) for api in self.apis]
            starting += [pool.submit(c.start, 120) for c in self.consumers.values()]
            for future in starting:
                future.result()

    @property
    def api_urls(self) -> list[str]:
        return [api.url for api in self.apis]

    def _settings(self, api_port: int, mongo_url: str, sql_url: str) -> Settings:
        assert self.broker_relay is not None
        return Settings(
            tradestore_home=self.workdir,
            tradestore_env="test",
            log_level="WARNING",
            kafka_bootstrap_servers=f"{LOCAL}:{self.broker_relay.port}",
            kafka_publish_timeout_s=self.publish_timeout_s,
            tradedata_port=api_port,
            trades_topic_partitions=self.partitions,
            consumer_assignment_strategy=self.strategy,
            mongo_url=SecretStr(mongo_url),
            sql_url=SecretStr(sql_url),
        )

    def _migrate(self) -> None:
        from shared.stores.sql.engine import make_engine
        from shared.stores.sql.migrate import migrate

        assert self.direct is not None
        engine = make_engine(self.direct.sql_url_value)
        try:
            migrate(engine, timeout_s=30)
        finally:
            engine.dispose()

    def link_connections(self) -> dict[str, int]:
        """Connections each broker link carried: proof that faults on a link reached its clients."""
        return {
            "api link": self.api_link.accepted if self.api_link else 0,
            "consumer link": self.consumer_link.accepted if self.consumer_link else 0,
            "unrouted (tools)": sum(
                n
                for (_, port), n in (self.broker_relay.routed if self.broker_relay else {}).items()
                if self.broker is not None and port == self.broker.port
            ),
        }

    def api_peak_rss_kib(self) -> int:
        """The largest VmHWM of the API processes (peak resident set), 0 if unknown."""
        peaks = [0]
        for api in self.apis:
            if api.proc is None:
                continue
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{api.proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]))
        return max(peaks)

    def stop(self) -> None:
        """API, consumers, stores, relays and proxies, then the broker (each one even if another fails)."""
        parts: list[ManagedProcess | None] = [*self.apis, *self.consumers.values(), *self.joiners.values()]
        parts.append(self.mongo)
        for part in parts:
            if part is not None:
                part.stop()
        if self.postgres is not None:
            self.postgres.remove()
        for link in [*self.store_links.values(), self.broker_relay]:
            if link is not None:
                link.stop()
        for proxy in (self.api_link, self.consumer_link):
            if proxy is not None:
                proxy.stop()
        if self.broker is not None:
            self.broker.stop()
