"""`tradestore bench --quick` with tiny sizes: every row present with positive figures; no timing asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tradestore_tools.bench.report import FIGURES, TARGETS

TINY = [
    "raw_trades=500",
    "single_seconds=1",
    "concurrencies=1,4,16",
    "batch_trades=400",
    "batch_size=100",
    "sink_trades=100",
    "e2e_trades=100",
    "consumer_batch_size=50",
    "wrk_seconds=1",
]


def test_quick_bench_writes_every_row_with_positive_figures(tmp_path: Path) -> None:
    args = [
        sys.executable,
        "-m",
        "tradestore.cli",
        "bench",
        "--quick",
        "--compare",
        "--results",
        str(tmp_path),
    ]
    for item in TINY:
        args += ["--set", item]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "latest.json").read_text())
    assert len(list(tmp_path.glob("*-quick.json"))) == 1
    assert {"commit", "nproc", "cpu_model", "python"} <= set(result["facts"])
    for row, field, *_ in FIGURES:
        assert row in result["rows"], row
        assert "error" not in result["rows"][row], result["rows"][row]
        assert result["rows"][row][field] > 0, (row, field)
    assert len(result["targets"]) == len(TARGETS)
    assert "issue 8 targets" in done.stdout
    # where the CPU went during each wrk run: every service of the design and the load generator
    for row, api, consumers in (
        ("naive_single", "naive-api", ("naive-mongo", "naive-sql")),
        ("single_wrk", "api", ("consume-mongo", "consume-sql")),
    ):
        cpu = result["rows"][row]["cpu"]
        assert cpu["trades"] == result["rows"][row]["ok"]
        assert cpu["us_per_trade"][api] > 0, cpu
        assert {*consumers, "kafka", "mongo", "wrk"} <= set(cpu["us_per_trade"]), cpu
        assert 0 < cpu["cores"] <= 64
    for row, own in (("batch", {"api", "kafka"}), ("sink_mongo", {"consume-mongo", "mongo", "kafka"})):
        assert own <= set(result["rows"][row]["cpu"]["us_per_trade"]), result["rows"][row]["cpu"]
    assert "consume-sql" in result["rows"]["sink_sql"]["cpu"]["us_per_trade"]
    assert "where the CPU went" in done.stdout
    # the naive reference carries its consumers' load: both wrote trades of its run
    stored = result["rows"]["naive_single"]["stored_by_consumers"]
    assert set(stored) == {"mongo", "sql"}
    assert min(stored.values()) > 0, stored
