"""The bench's CPU split: CPU seconds per named process tree over a window, and its table by role."""

from __future__ import annotations

import subprocess
import sys
import time

from tradestore_tools.bench.cpu import DRIVER, LOAD, CpuSplit, tree_cpu_s
from tradestore_tools.bench.report import cpu_split

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"


def test_a_tree_counts_its_children_and_the_window_only_what_ran_inside_it() -> None:
    # a parent that sleeps and a child that burns 0.4 s: the parent's tree is charged for the child
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time\n"
         f"p = subprocess.Popen([sys.executable, '-c', {BURN.format(s=0.4)!r}])\n"
         "time.sleep(30)\n"]
    )  # fmt: skip
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.2)  # both started; the burn is running
        with CpuSplit({"burning": parent.pid, "idle": idle.pid, "gone": None}) as split:
            time.sleep(0.8)
            waited = subprocess.run([sys.executable, "-c", BURN.format(s=0.3)], check=True)
        assert waited.returncode == 0
        assert "gone" not in split.used
        assert split.used["burning"] > 0.1  # the child's burn, inside the window
        assert split.used["idle"] < 0.05
        assert split.used[LOAD] >= 0.25  # the child this process waited for
        assert split.used[DRIVER] >= 0.0
        assert split.wall_s >= 0.8
        row = split.row(1000)
        assert row["trades"] == 1000
        assert abs(row["us_per_trade"]["burning"] - split.used["burning"] * 1000) < 1e-6
        assert abs(row["cores"] - sum(split.used.values()) / split.wall_s) < 1e-9
        assert tree_cpu_s(parent.pid) >= split.used["burning"]
    finally:
        for proc in (parent, idle):
            proc.kill()
            proc.wait()


def test_the_cpu_table_puts_both_designs_processes_under_one_role() -> None:
    result = {
        "rows": {
            "naive_single": {"cpu": {"cores": 1.9, "us_per_trade": {"naive-api": 500.0, "mongo": 300.0}}},
            "single_wrk": {"cpu": {"cores": 1.8, "us_per_trade": {"api": 150.0, "mongo": 200.0, LOAD: 20.0}}},
        }
    }
    table = cpu_split(result)
    assert table["API"] == {"naive wrk": 500.0, "ours wrk": 150.0}
    assert table["nx-27017"] == {"naive wrk": 300.0, "ours wrk": 200.0}
    assert table[LOAD] == {"ours wrk": 20.0}
    assert table["cores busy"] == {"naive wrk": 1.9, "ours wrk": 1.8}
    assert cpu_split({"rows": {"single_wrk": {"error": "x"}}}) == {}
