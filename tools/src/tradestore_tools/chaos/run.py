"""The fault-injection run: start the faultable pipeline, post a scenario while faults happen, verify.

Order: topology up -> faults scheduled over the posting window -> every post re-posted until 2xx ->
remaining faults finish (every target restored) -> API peak RSS read -> both stores waited on until
they hold the expected outcome (or stop changing) -> per-store checks and reconcile -> teardown.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shared.kafka import read_until
from shared.ports import Key, TradeAudit
from shared.stores import open_audit
from tradedata.models import utc_today
from tradestore.posting import Posting
from tradestore.reconcile import Reconciliation, reconcile
from tradestore.regress.scenario import build_scenario, summarize
from tradestore_tools.chaos import fleet
from tradestore_tools.chaos.faults import FaultRecord, Injector
from tradestore_tools.chaos.schedule import NEW_ID, FaultKind, plan_faults
from tradestore_tools.chaos.spread import post_spread
from tradestore_tools.chaos.stores import duplicate_keys, wait_settled
from tradestore_tools.chaos.topology import Strategy, Topology
from tradestore_tools.chaos.verify import (
    StoreCheck,
    as_accepted,
    attribute_lost,
    check_store,
    dead_letter_reasons,
    expected_records,
)

log = logging.getLogger("tradestore_tools.chaos")


@dataclass
class ChaosConfig:
    n: int = 100_000
    faults: int = 60
    seed: int = 7
    concurrency: int = 8
    instances: int = 3  # static consumer instances per sink
    apis: int = 2  # API processes; the posts are dealt over them
    static: bool = True  # consumer instances as static group members (same id after a restart)
    strategy: Strategy | None = None  # their partition.assignment.strategy (None: the product default)
    new_id_joins: bool = True  # churn includes members with a new id (they stall Tansu's groups)
    window_s: float | None = None  # faults are spread over it; default: n / (rate or expected_rate)
    rate: float | None = None  # cap on posts/s (a short run spans its fault window)
    expected_rate: float = 500.0  # posts/s under faults, 8 threads, 2 cores (measured ~750), for the window
    fault_duration_s: tuple[float, float] = (0.5, 3.0)
    publish_timeout_s: float = 2.0  # shorter than the longest faults: some posts get 503
    post_deadline_s: float = 180.0
    settle_s: float = 300.0
    quiet_s: float = 180.0  # a store whose summary has not changed for this long has settled: a MongoDB
    # consumer holding every partition was seen reading nothing for 80 s with ~300 records waiting (and the
    # full run needed 162 s to settle); a passing run returns as soon as the stores match

    workdir: Path | None = None

    def window(self) -> float:
        if self.window_s is not None:
            return self.window_s
        return max(10.0, self.n / (self.rate or self.expected_rate))


@dataclass
class ChaosResult:
    config: ChaosConfig
    workdir: Path
    prefix: str = ""
    posting: Posting = field(default_factory=Posting)
    faults: list[FaultRecord] = field(default_factory=list)
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    faults_after_posting: int = 0
    faults_restored: bool = False
    restarts: dict[str, int] = field(default_factory=dict)  # per instance
    joins: dict[str, int] = field(default_factory=dict)  # new-id members per sink role
    assignment_changes: dict[str, int] = field(default_factory=dict)  # per instance, from its log
    posts_per_api: dict[str, int] = field(default_factory=dict)
    unheld: dict[str, list[int]] = field(default_factory=dict)  # per sink role: partitions nobody holds
    stores: list[StoreCheck] = field(default_factory=list)
    settled: dict[str, float] = field(default_factory=dict)  # store -> seconds waited (<0: never matched)
    reconciliation: Reconciliation | None = None
    consumers_alive: bool = False
    api_peak_rss_kib: int = 0
    link_connections: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        clean = self.reconciliation is not None and self.reconciliation.clean
        return (
            clean
            and self.faults_restored
            and self.consumers_alive
            and len(self.stores) == 2
            and all(s.ok for s in self.stores)
            and not self.posting.rejected
        )


def run_chaos(config: ChaosConfig, tick: Callable[[], None] = lambda: None) -> ChaosResult:
    """One complete run; the pipeline is always torn down (its logs stay under the workdir)."""
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="tradestore-chaos-"))
    result = ChaosResult(config, workdir, prefix=f"C{uuid.uuid4().hex[:8]}-")
    started = time.monotonic()
    topo = Topology(
        workdir,
        config.publish_timeout_s,
        instances=config.instances,
        api_count=config.apis,
        static=config.static,
        strategy=config.strategy,
    )
    try:
        topo.start()
        assert topo.settings is not None
        today = utc_today()
        scenario = build_scenario(config.n, today, result.prefix, seed=config.seed)
        kinds = [k for k in FaultKind if config.new_id_joins or k not in NEW_ID]
        plan = plan_faults(config.faults, config.window(), config.seed, config.fault_duration_s, kinds=kinds)
        injector = Injector(topo, plan)
        t0 = time.monotonic()
        injector.start(t0)
        result.posting, result.posts_per_api = post_spread(
            scenario.groups, topo.api_urls, config.concurrency, config.post_deadline_s, tick, config.rate
        )
        posted_at = time.monotonic() - t0
        result.faults_restored = injector.join(timeout_s=config.window() + 600)
        result.faults = injector.records
        result.faults_by_kind = injector.by_kind()
        result.faults_after_posting = sum(r.started_s > posted_at for r in injector.records)
        result.faults_restored &= not any(r.error for r in injector.records)
        result.restarts = dict(injector.restarts)
        result.joins = dict(injector.joins)
        result.assignment_changes = fleet.assignment_changes({**topo.consumers, **topo.joiners})
        result.api_peak_rss_kib = topo.api_peak_rss_kib()
        result.link_connections = topo.link_connections()
        result.consumers_alive = all(c.alive() for c in topo.consumers.values())
        verify(result, topo, today)
        result.unheld = fleet.unheld(fleet.held_at_end(topo.consumers), topo.partitions)  # after settling
    finally:
        topo.stop()
        result.seconds = time.monotonic() - started
    return result


def verify(result: ChaosResult, topo: Topology, today: date) -> None:
    """Wait for both stores to settle, then check each one and reconcile them."""
    assert topo.direct is not None
    direct = topo.direct
    readers: list[TradeAudit] = [open_audit(direct, "mongo"), open_audit(direct, "sql")]
    try:
        check_readers(result, readers, today)
    finally:
        for reader in readers:
            reader.close()
    if any(store.lost for store in result.stores):
        config = {"bootstrap.servers": direct.kafka_bootstrap_servers}
        letters = read_until(config, direct.trades_dlq_topic, idle_s=3.0, deadline_s=60.0)
        reasons = dead_letter_reasons(letters)
        for store in result.stores:
            attribute_lost(store, reasons)


def check_readers(
    result: ChaosResult,
    readers: list[TradeAudit],
    today: date,
    duplicates: Callable[[TradeAudit, str], list[Key]] = duplicate_keys,
) -> None:
    """The checks proper, on any two readers (MongoDB first): settle, per-store checks, reconcile."""
    expected = expected_records(result.posting.acked, today)
    unacked = as_accepted(result.posting.unacked, today)
    for reader in readers:
        matched, waited = wait_settled(
            reader,
            result.prefix,
            summarize(expected.values()),
            result.config.settle_s,
            result.config.quiet_s,
        )
        result.settled[reader.name] = waited if matched else -waited
        log.info("%s %s after %.1fs", reader.name, "settled" if matched else "did NOT settle", waited)
    for reader in readers:
        stored = reader.iter_trades(result.prefix)
        dups = duplicates(reader, result.prefix)
        result.stores.append(check_store(reader.name, expected, stored, dups, unacked))
    result.reconciliation = reconcile(readers[0], readers[1], result.prefix)
