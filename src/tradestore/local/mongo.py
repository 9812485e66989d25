"""The embedded MongoDB-protocol server: nx-27017 (PyPI), MongoDB wire protocol over SQLite files.

Data lives in one SQLite file per database under the data dir, so a restart keeps it (outage tests).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from tradestore.local.process import ManagedProcess, wait_for_port


def nx_binary() -> str:
    """nx-27017 next to the running interpreter (the venv), else on PATH."""
    local = Path(sys.executable).parent / "nx-27017"
    if local.exists():
        return str(local)
    found = shutil.which("nx-27017")
    if found is None:
        raise FileNotFoundError(
            "nx-27017 not found next to the interpreter nor on PATH; pip install nx-27017"
        )
    return found


class EmbeddedMongo(ManagedProcess):
    """nx-27017 on host:port with its data under workdir/data; ready when pymongo's ping succeeds."""

    name = "mongo"

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "mongo-data"

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            nx_binary(),
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "-p",
            str(self.port),
            "--log-file",
            str(self.workdir / "nx-27017.server.log"),
            "--pid-file",
            str(self.workdir / "nx-27017.pid"),
        ]

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        wait_for_port(self.host, self.port, timeout_s)
        client: MongoClient[dict[str, object]] = MongoClient(self.url, serverSelectionTimeoutMS=1000)
        try:
            while True:
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        finally:
            client.close()
