"""The fault run at scale, without processes: churn faults on fake members, the per-instance assignment
changes, posting dealt over several APIs, and the report's fields."""

from __future__ import annotations

import io
import random
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from tradestore.posting import Posting
from tradestore_tools.chaos import fleet
from tradestore_tools.chaos.report import as_json, print_report
from tradestore_tools.chaos.run import ChaosConfig, ChaosResult
from tradestore_tools.chaos.schedule import CHURN, NEW_ID, TARGET, FaultKind, plan_faults
from tradestore_tools.chaos.spread import deal, merge


class FakeMember:
    """Records what a churn fault did to it, in order."""

    def __init__(self, name: str, log_path: Path | None = None) -> None:
        self.name = name
        self.log_path = log_path or Path("/nonexistent") / f"{name}.log"
        self.events: list[str] = []

    def kill(self) -> None:
        self.events.append("kill")

    def stop(self) -> None:
        self.events.append("stop")

    def start(self, timeout_s: float) -> None:
        self.events.append(f"start<={timeout_s:g}")


def test_kill_and_scale_down_come_back_with_the_same_member_and_wait_for_readiness() -> None:
    waited: list[float] = []
    killed, scaled = FakeMember("kafkaconsumer-1"), FakeMember("kafkaconsumer-2")
    fleet.kill_restart(killed, 1.5, waited.append)  # type: ignore[arg-type]
    fleet.scale_down_up(scaled, 0.7, waited.append)  # type: ignore[arg-type]
    assert killed.events == ["kill", f"start<={fleet.READY_S:g}"]
    assert scaled.events == ["stop", f"start<={fleet.READY_S:g}"]  # SIGTERM: a graceful leave
    assert waited == [1.5, 0.7]


def test_a_joiner_leaves_even_when_it_never_became_ready() -> None:
    class Stuck(FakeMember):
        def start(self, timeout_s: float) -> None:
            raise TimeoutError("not ready")

    joiner = Stuck("kafkaconsumer-join1")
    with pytest.raises(TimeoutError):
        fleet.join_and_leave(joiner, 2.0, lambda _s: None)  # type: ignore[arg-type]
    assert joiner.events == ["stop"]


def test_new_instances_are_static_unless_they_are_new_id_joiners(tmp_path: Path) -> None:
    env = {"CONSUMER_INSTANCE_ID": "inherited", "KAFKA_BOOTSTRAP_SERVERS": "x"}
    static = fleet.new_instance("kafkaconsumer", "mongo", "kafkaconsumer-2", env, tmp_path)
    joiner = fleet.new_instance("kafkaconsumer", "mongo", "kafkaconsumer-join1", env, tmp_path, static=False)
    assert static.extra_env["CONSUMER_INSTANCE_ID"].startswith("kafkaconsumer-2-chaos-")
    assert "CONSUMER_INSTANCE_ID" not in joiner.extra_env  # dynamic membership: leaves on stop
    assert static.args == ["consume", "mongo"]
    assert static.extra_env["METRICS_PORT"] == str(static.port)


def test_pick_chooses_only_among_the_roles_static_instances_reproducibly() -> None:
    members = {n: FakeMember(n) for n in ("kafkaconsumer-1", "kafkaconsumer-2", "kafkaconsumermssql-1")}
    chosen = {fleet.pick(members, "kafkaconsumer", random.Random(i)).name for i in range(40)}  # type: ignore[arg-type]
    assert chosen == {"kafkaconsumer-1", "kafkaconsumer-2"}
    again = fleet.pick(members, "kafkaconsumer", random.Random(7)).name  # type: ignore[arg-type]
    assert again == fleet.pick(members, "kafkaconsumer", random.Random(7)).name  # type: ignore[arg-type]


def test_assignment_changes_are_counted_per_instance_across_restarts(tmp_path: Path) -> None:
    first = tmp_path / "kafkaconsumer-1.log"
    first.write_text("mongo holds partitions [0, 1]\nother line\nmongo holds partitions []\n")
    with first.open("a") as log:  # a restarted process appends to its log
        log.write("restarted\nmongo holds partitions [0, 1]\n")
    members = {
        "kafkaconsumer-1": FakeMember("kafkaconsumer-1", first),
        "kafkaconsumer-2": FakeMember("kafkaconsumer-2", tmp_path / "missing.log"),
    }
    assert fleet.assignment_changes(members) == {"kafkaconsumer-1": 3, "kafkaconsumer-2": 0}  # type: ignore[arg-type]


def test_churn_kinds_are_scheduled_on_their_sink_and_serialized_with_its_kills() -> None:
    assert TARGET[FaultKind.JOIN_MONGO_CONSUMER] == TARGET[FaultKind.KILL_MONGO_CONSUMER] == "kafkaconsumer"
    assert (
        TARGET[FaultKind.SCALE_SQL_CONSUMERS] == TARGET[FaultKind.KILL_SQL_CONSUMER] == "kafkaconsumermssql"
    )
    kinds = Counter(f.kind for f in plan_faults(50, 30.0, seed=11))
    assert all(kinds[k] >= 1 for k in CHURN)


def posting(trade_ids: list[str], posts: int, retried: int, status: int) -> Posting:
    out = Posting(posts=posts, acknowledged=posts, retried_503=retried, seconds=float(posts))
    out.statuses.update({status: posts})
    out.acked = {t: [{"trade_id": t}] for t in trade_ids}
    return out


def test_trade_ids_are_dealt_round_robin_and_the_postings_merge() -> None:
    groups = {f"T-{i}": [{"trade_id": f"T-{i}", "version": v} for v in (1, 2)] for i in range(5)}
    left, right = deal(groups, 2)
    assert list(left) == ["T-0", "T-2", "T-4"]
    assert list(right) == ["T-1", "T-3"]
    assert left["T-2"] == groups["T-2"]  # a trade_id's posts stay together, in order
    merged = merge([posting(["T-0"], 3, 1, 201), posting(["T-1"], 2, 0, 201)])
    assert (merged.posts, merged.acknowledged, merged.retried_503) == (5, 5, 1)
    assert merged.statuses[201] == 5
    assert set(merged.acked) == {"T-0", "T-1"}
    assert merged.seconds == 3.0


def test_the_report_shows_instances_apis_churn_and_assignment_changes() -> None:
    result = ChaosResult(ChaosConfig(n=10, faults=3, instances=3, apis=2), Path("/tmp/run"))
    result.faults_by_kind = {k.value: 0 for k in FaultKind} | {
        FaultKind.KILL_MONGO_CONSUMER.value: 2,
        FaultKind.JOIN_SQL_CONSUMER.value: 1,
        FaultKind.SLOW_SQL_LINK.value: 4,
    }
    result.restarts = {"kafkaconsumer-2": 2}
    result.joins = {"kafkaconsumermssql": 1}
    result.assignment_changes = {"kafkaconsumer-1": 3, "kafkaconsumermssql-join1": 2}
    result.posts_per_api = {"http://a": 6, "http://b": 4}
    data = as_json(result)
    assert data["churn_faults"] == 3
    assert (data["command"]["instances"], data["command"]["apis"]) == (3, 2)
    assert data["assignment_changes"] == {"kafkaconsumer-1": 3, "kafkaconsumermssql-join1": 2}
    assert data["posts_per_api"] == {"http://a": 6, "http://b": 4}
    assert data["new_id_joins"] == {"kafkaconsumermssql": 1}
    out = io.StringIO()
    print_report(result, Console(file=out, width=200))
    text = out.getvalue()
    assert "assignment changes kafkaconsumermssql-join1" in text
    assert "of them churn (membership)" in text
    assert "6, 4" in text


class LiveMember(FakeMember):
    def __init__(self, name: str, log_path: Path, alive: bool = True) -> None:
        super().__init__(name, log_path)
        self._alive = alive

    def alive(self) -> bool:
        return self._alive


def test_partitions_nobody_holds_at_the_end_show_a_stalled_group(tmp_path: Path) -> None:
    logs = {n: tmp_path / f"{n}.log" for n in ("kafkaconsumer-1", "kafkaconsumer-2", "kafkaconsumer-join1")}
    logs["kafkaconsumer-1"].write_text("x holds partitions [0, 1]\nx holds partitions [0, 2]\n")
    logs["kafkaconsumer-2"].write_text("x holds partitions []\n")
    logs["kafkaconsumer-join1"].write_text("x holds partitions [1, 3]\n")
    members = {n: LiveMember(n, p, alive=not n.endswith("join1")) for n, p in logs.items()}
    held = fleet.held_at_end(members)  # type: ignore[arg-type]
    assert held == {"kafkaconsumer-1": [0, 2], "kafkaconsumer-2": []}  # a stopped member holds nothing
    assert fleet.unheld(held, 4) == {"kafkaconsumer": [1, 3]}


def test_same_id_churn_schedules_no_new_id_joins_but_every_other_kind() -> None:
    allowed = [k for k in FaultKind if k not in NEW_ID]
    kinds = {f.kind for f in plan_faults(len(allowed), 10.0, seed=2, kinds=allowed)}
    assert kinds == set(allowed)
    assert plan_faults(60, 10.0, seed=2) == plan_faults(60, 10.0, seed=2, kinds=list(FaultKind))
