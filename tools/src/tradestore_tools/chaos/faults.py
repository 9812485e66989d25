"""The fault injector: runs a schedule against a Topology on background threads and logs every fault.

Faults on the same target are serialized (a per-target lock: a fault whose target is busy starts when
it is free, and its log entry says how late); faults on different targets overlap freely.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

from tradestore_tools.chaos import fleet
from tradestore_tools.chaos.schedule import CHURN, Fault, FaultKind
from tradestore_tools.chaos.topology import Topology
from tradestore_tools.faults.proxy import Mode

log = logging.getLogger("tradestore_tools.chaos")


@dataclass
class FaultRecord:
    """What happened to one planned fault (seconds since the run started)."""

    fault: Fault
    started_s: float = -1.0
    ended_s: float = -1.0
    error: str | None = None


class Injector:
    """`start(t0)` schedules every fault relative to `t0` (time.monotonic); `join()` waits for them."""

    def __init__(self, topology: Topology, faults: list[Fault]) -> None:
        self.topology = topology
        self.records = [FaultRecord(f) for f in faults]
        self.restarts: Counter[str] = Counter()  # per instance (killed or scaled down, then back)
        self.joins: Counter[str] = Counter()  # new-id members per role
        self._locks = {f.target: threading.Lock() for f in faults}
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0

    def start(self, t0: float) -> None:
        self._t0 = t0
        for record in self.records:
            thread = threading.Thread(target=self._run, args=(record,), name="fault", daemon=True)
            self._threads.append(thread)
            thread.start()

    def join(self, timeout_s: float) -> bool:
        """True when every fault ran and its target was restored within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def by_kind(self) -> dict[str, int]:
        """Faults injected (started), per kind."""
        done = Counter(r.fault.kind.value for r in self.records if r.started_s >= 0)
        return {kind.value: done.get(kind.value, 0) for kind in FaultKind}

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _run(self, record: FaultRecord) -> None:
        fault = record.fault
        delay = fault.at_s - self._now()
        if delay > 0:
            time.sleep(delay)  # a scheduled moment, not a wait for consistency
        with self._locks[fault.target]:
            record.started_s = self._now()
            try:
                self._inject(fault)
            except Exception as exc:  # logged and reported: a target that did not come back fails the run
                record.error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("fault %s failed: %s", fault.kind.value, record.error)
            record.ended_s = self._now()

    def _inject(self, fault: Fault) -> None:
        topo, kind = self.topology, fault.kind
        if kind in CHURN:
            self._churn(fault)
        elif kind in (FaultKind.MONGO_RESTART, FaultKind.POSTGRES_RESTART):
            server = topo.mongo if kind is FaultKind.MONGO_RESTART else topo.postgres
            assert server is not None
            server.stop()
            time.sleep(fault.duration_s)
            server.start(timeout_s=60)
        elif kind in (FaultKind.SLOW_MONGO_LINK, FaultKind.SLOW_SQL_LINK):
            relay = topo.store_links["mongo" if kind is FaultKind.SLOW_MONGO_LINK else "sql"]
            relay.delay_s = fault.latency_s
            try:
                time.sleep(fault.duration_s)
            finally:
                relay.delay_s = 0.0
        else:
            api = kind in (FaultKind.API_BROKER_DROP, FaultKind.API_BROKER_STALL)
            proxy = topo.api_link if api else topo.consumer_link
            assert proxy is not None
            drop = kind in (FaultKind.API_BROKER_DROP, FaultKind.CONSUMER_BROKER_DROP)
            proxy.set_mode(Mode.DROP if drop else Mode.STALL)
            try:
                time.sleep(fault.duration_s)
            finally:
                proxy.set_mode(Mode.FORWARD)

    def _churn(self, fault: Fault) -> None:
        """Membership faults on one sink's group: an instance killed or scaled down and back with its
        same id, or a member with a new id joining and leaving (tradestore_tools.chaos.fleet)."""
        topo, kind, role = self.topology, fault.kind, fault.target
        rng = random.Random(f"{fault.at_s}:{kind.value}")
        if kind in (FaultKind.JOIN_MONGO_CONSUMER, FaultKind.JOIN_SQL_CONSUMER):
            self.joins[role] += 1
            name = f"{role}-join{self.joins[role]}"
            sink = "mongo" if kind is FaultKind.JOIN_MONGO_CONSUMER else "sql"
            assert topo.settings is not None
            joiner = fleet.new_instance(
                role, sink, name, topo.settings.to_env(), topo.workdir / "logs", False
            )
            topo.joiners[name] = joiner
            fleet.join_and_leave(joiner, fault.duration_s, time.sleep)
            return
        member = fleet.pick(topo.consumers, role, rng)
        if kind in (FaultKind.KILL_MONGO_CONSUMER, FaultKind.KILL_SQL_CONSUMER):
            fleet.kill_restart(member, fault.duration_s, time.sleep)
        else:
            fleet.scale_down_up(member, fault.duration_s, time.sleep)
        self.restarts[member.name] += 1
