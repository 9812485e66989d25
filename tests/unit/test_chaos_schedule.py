"""The fault schedule: reproducible from its seed, inside its window, every kind present."""

from __future__ import annotations

from tradestore_tools.chaos.schedule import FaultKind, plan_faults


def test_same_seed_gives_the_same_schedule_and_another_seed_a_different_one() -> None:
    assert plan_faults(60, 100.0, seed=3) == plan_faults(60, 100.0, seed=3)
    assert plan_faults(60, 100.0, seed=3) != plan_faults(60, 100.0, seed=4)


def test_faults_are_sorted_inside_the_window_with_durations_in_range() -> None:
    faults = plan_faults(60, 50.0, seed=1, duration_s=(0.5, 3.0), latency_s=(0.05, 0.3))
    assert len(faults) == 60
    assert [f.at_s for f in faults] == sorted(f.at_s for f in faults)
    assert all(0 <= f.at_s <= 50.0 for f in faults)
    assert all(0.5 <= f.duration_s <= 3.0 for f in faults)


def test_every_kind_is_scheduled_at_least_once_when_there_are_enough_faults() -> None:
    for seed in range(20):
        kinds = {f.kind for f in plan_faults(len(FaultKind), 10.0, seed)}
        assert kinds == set(FaultKind)


def test_only_slow_links_carry_a_latency() -> None:
    slow = {FaultKind.SLOW_MONGO_LINK, FaultKind.SLOW_SQL_LINK}
    for fault in plan_faults(200, 10.0, seed=5):
        assert (fault.latency_s > 0) == (fault.kind in slow)
        assert 0.05 <= fault.latency_s <= 0.3 or fault.kind not in slow
