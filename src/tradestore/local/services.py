"""TradeStore's own services as child processes (`tradestore api`, `tradestore consume ...`)."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tradestore.local.process import ManagedProcess


class ServiceProcess(ManagedProcess):
    """`python -m tradestore.cli ARGS` with extra environment; ready when its HTTP probe answers 200."""

    def __init__(
        self,
        name: str,
        args: list[str],
        host: str,
        port: int,
        workdir: Path,
        env: dict[str, str] | None = None,
        ready_path: str = "/ready",
    ) -> None:
        super().__init__(host, port, workdir)
        self.name = name
        self.args = args
        self.extra_env = env or {}
        self.ready_path = ready_path

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tradestore.cli", *self.args]

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.extra_env}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def probe(self, timeout_s: float = 1.0) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=timeout_s) as resp:  # noqa: S310  # nosec B310
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            if self.probe():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready within {timeout_s:g}s")
