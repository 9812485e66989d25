"""CPU seconds of the processes we started (nx-27017, the broker, ...), from /proc: where the time went."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tradestore_tools.bench.facts import children

TICK = os.sysconf("SC_CLK_TCK")
LOAD = "wrk"
DRIVER = "bench driver"


def stat_cpu_s(stat: Path, waited: bool = True) -> float:
    """User + system CPU seconds in a /proc stat file: a process's, with the children it waited for when
    `waited`, or a thread's (`task/TID/stat`, waited=False: those fields are the whole process's); 0.0
    when it cannot be read."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11 : 15 if waited else 13]) / TICK


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (and of its children it waited for); 0.0 when unknown."""
    return stat_cpu_s(Path(f"/proc/{pid}/stat"))


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of `pid` and every process below it (PostgreSQL's backends, uvicorn's workers)."""
    return sum(cpu_s(p) for p in (pid, *children(pid)))


class CpuSplit:
    """CPU seconds each named process tree used over a window (a `with` block), with the children this
    process waited for meanwhile (the load generator: wrk runs as one) and this process itself.

    A process tree that ends inside the window loses what it used (nothing here ends mid-run).
    """

    def __init__(self, roots: Mapping[str, int | None]) -> None:
        self.roots = {name: pid for name, pid in roots.items() if pid}
        self.used: dict[str, float] = {}
        self.wall_s = 0.0

    def _sample(self) -> dict[str, float]:
        found = {name: tree_cpu_s(pid) for name, pid in self.roots.items()}
        waited = resource.getrusage(resource.RUSAGE_CHILDREN)
        found[LOAD] = waited.ru_utime + waited.ru_stime
        found[DRIVER] = time.process_time()
        return found

    def __enter__(self) -> CpuSplit:
        self._start, self._t0 = self._sample(), time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        end, self.wall_s = self._sample(), time.perf_counter() - self._t0
        self.used = {name: max(0.0, end[name] - self._start[name]) for name in end}

    def row(self, trades: int) -> dict[str, Any]:
        """{wall_s, trades, cores (all CPU / wall), cpu_s: {name: s}, us_per_trade: {name: us}}."""
        per = 1e6 / trades if trades else 0.0
        return {
            "wall_s": self.wall_s,
            "trades": trades,
            "cores": sum(self.used.values()) / self.wall_s if self.wall_s else 0.0,
            "cpu_s": dict(self.used),
            "us_per_trade": {name: s * per for name, s in self.used.items()},
        }
