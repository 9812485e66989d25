"""An embedded PostgreSQL server for tests and benchmarks: initdb once, then start/stop on one data dir.

PostgreSQL refuses to run as root, so as root the data lives in a private directory owned by the
`postgres` system user (the Debian package creates it) and the server is exec'd through setpriv.
stop() is a fast shutdown (SIGINT): a smart one would wait for pooled clients to disconnect.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tradestore.local.process import ManagedProcess, wait_for_port

SERVICE_USER = "postgres"


def postgres_bindir() -> Path:
    """Where initdb and postgres live: `pg_config --bindir`, the Debian layout, or PATH."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    candidates.extend(Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    found = shutil.which("postgres")
    if found:
        candidates.append(Path(found).parent)
    for bindir in candidates:
        if (bindir / "postgres").is_file() and (bindir / "initdb").is_file():
            return bindir
    raise FileNotFoundError("PostgreSQL server binaries (initdb, postgres) not found; install postgresql")


class EmbeddedPostgres(ManagedProcess):
    """PostgreSQL on host:port, trust auth for user `postgres`; ready when psycopg can connect."""

    name = "postgres"

    def __init__(self, host: str, port: int, workdir: Path) -> None:
        super().__init__(host, port, workdir)
        self.bindir = postgres_bindir()
        self._as_root = os.geteuid() == 0
        # As root the pytest/tmp tree is not traversable by `postgres`: use a private dir it owns.
        self.root = Path(tempfile.mkdtemp(prefix="tradestore-pg-")) if self._as_root else workdir
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def _as_service_user(self, argv: list[str]) -> list[str]:
        if not self._as_root:
            return argv
        return ["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_USER}", "--init-groups", *argv]

    def _prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for path in (self.root, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            user = pwd.getpwnam(SERVICE_USER)
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            return
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres"]
        with self.log_path.open("ab") as log:
            subprocess.run(
                [*self._as_service_user(initdb), "--no-sync", "-E", "UTF8"],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )

    def command(self) -> list[str]:
        argv = [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        argv += ["-k", str(self.socket_dir), "-c", f"listen_addresses={self.host}"]
        # A throwaway server: durability is not what the tests measure, speed is.
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        return self._as_service_user(argv)

    def start(self, timeout_s: float = 60.0) -> None:
        self._prepare()
        super().start(timeout_s)

    def wait_ready(self, timeout_s: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        wait_for_port(self.host, self.port, timeout_s)
        while True:
            try:
                with psycopg.connect(self.url.replace("+psycopg", ""), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or not self.alive():
                    raise
                time.sleep(0.05)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Fast shutdown (SIGINT to the postmaster), then whatever ManagedProcess does."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout_s)
        super().stop(timeout_s)

    def remove(self) -> None:
        """Stop and delete the data directory (the private one made for root included)."""
        self.stop()
        shutil.rmtree(self.data_dir if not self._as_root else self.root, ignore_errors=True)
