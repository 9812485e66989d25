"""The fault-injection run, short (CI): 1,500 posts over two API processes while 50 faults happen,
churn included (consumers killed, scaled down and up, each back with its same id); nothing lost.

Runs `tradestore chaos` as a subprocess (its own broker, nx-27017, PostgreSQL, APIs and consumers on
free ports) and reads its JSON report. Posts are paced so the faults land while trades flow. One
instance per sink and no new-id joins: on the embedded broker a group of several members, or a member
with a new id, can stall for good (docs/scaling.md, "Membership on Tansu"), so CI does not depend on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradestore_tools.chaos.schedule import NEW_ID, FaultKind

pytestmark = pytest.mark.local_only  # starts and stops its own stack on this machine

POSTS = 1500
FAULTS = 50
RATE = 50  # posts/s: posting then spans the ~30 s fault window


def test_short_fault_run_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    report = tmp_path / "chaos.json"
    argv = [sys.executable, "-m", "tradestore.cli", "chaos", "-n", str(POSTS), "--faults", str(FAULTS)]
    argv += ["--rate", str(RATE), "--fault-seconds", "0.3", "1.5", "--seed", "11"]
    argv += ["--instances", "1", "--apis", "2", "--churn", "same-id"]
    argv += ["--workdir", str(tmp_path / "run"), "--json", str(report)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=480, check=False)
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(report.read_text())
    summary = json.dumps({k: v for k, v in data.items() if k != "fault_log"}, indent=1)
    assert done.returncode == 0, summary + done.stdout[-2000:]
    assert data["ok"] is True
    assert data["acknowledged_2xx"] == POSTS
    for store in ("mongo", "sql"):
        assert data["stores"][store]["lost"] == 0, summary
        assert data["stores"][store]["duplicated"] == 0, summary
        assert data["stores"][store]["regressions"] == 0, summary
        assert data["stores"][store]["unexpected"] == 0, summary
    assert data["reconcile_clean"] is True
    assert data["faults_injected"] >= FAULTS
    by_kind = data["faults_by_kind"]
    assert all(by_kind[kind.value] >= 1 for kind in FaultKind if kind not in NEW_ID), by_kind
    assert data["churn_faults"] >= 4  # kills and scale down/up of both sinks
    assert len(data["posts_per_api"]) == 2
    assert all(n > 0 for n in data["posts_per_api"].values()), data["posts_per_api"]
    assert set(data["assignment_changes"]) == {"kafkaconsumer-1", "kafkaconsumermssql-1"}
    assert all(n >= 2 for n in data["assignment_changes"].values()), data["assignment_changes"]
    assert data["partitions_unheld_at_end"] == {"kafkaconsumer": [], "kafkaconsumermssql": []}
    assert data["broker_link_connections"]["api link"] > 0
    assert data["broker_link_connections"]["consumer link"] > 0
    assert data["api_peak_rss_mib"] > 0
