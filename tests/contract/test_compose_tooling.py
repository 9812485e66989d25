"""scripts/compose-test's helpers and stand-in files, checked without Docker (the run itself: .ci/run)."""

from __future__ import annotations

import importlib.util
import json
import re
import secrets
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "deploy/compose"
BASE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
STANDINS = {"redpanda": "kafka", "mongo": "mongo", "mssql": "sql"}


def helper(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HELPERS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Ts1-" + secrets.token_urlsafe(24), None),  # what compose-test generates
        ("short1A", "shorter than 8"),
        ("alllowercase", "three of"),
        ("P@ssw0rd-long", "break SQL_URL"),
        ("Pass:w0rd/xx", "break SQL_URL"),
        ("Pa%ssw0rd#xx", "break SQL_URL"),
    ],
)
def test_sa_password_check_refuses_what_sql_server_or_sql_url_would(
    password: str, problem: str | None
) -> None:
    found = helper("check_sa_password").problems(password)
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found
        assert all(password not in p for p in found)  # never echoes the password


def run_check(tmp_path: Path, image: list[str], lock: list[str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "image.txt").write_text("\n".join(image) + "\n")
    (tmp_path / "lock.txt").write_text("".join(f"{p}==1.0 \\\n    --hash=sha256:00\n" for p in lock))
    return subprocess.run(
        [sys.executable, HELPERS / "check_image_packages.py", tmp_path / "image.txt", tmp_path / "lock.txt"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_image_package_check_passes_exactly_the_lock_plus_the_project(tmp_path: Path) -> None:
    assert (
        run_check(
            tmp_path, ["fastapi", "Pydantic_Core", "tradestore"], ["fastapi", "pydantic-core"]
        ).returncode
        == 0
    )


@pytest.mark.parametrize(
    ("image", "lock", "said"),
    [
        (["fastapi", "tradestore", "pytest"], ["fastapi"], "not in the runtime lock: pytest"),
        (["fastapi", "tradestore", "nx-27017"], ["fastapi", "nx-27017"], "forbidden: nx-27017"),
        (["tradestore"], ["fastapi"], "missing: fastapi"),
    ],
)
def test_image_package_check_names_what_does_not_belong(
    tmp_path: Path, image: list[str], lock: list[str], said: str
) -> None:
    result = run_check(tmp_path, image, lock)
    assert result.returncode == 1
    assert said in result.stderr


def junit(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    suite = f'<testsuite tests="1" failures="0" errors="0" skipped="1">{body}</testsuite>'
    path.write_text(f"<testsuites>{suite}</testsuites>")
    return path


def test_junit_summary_allows_only_the_seed_sql_server_skip(tmp_path: Path) -> None:
    seed = junit(
        tmp_path,
        "a.xml",
        '<testcase classname="test_e2e_seed" name="t"><skipped message="no SQL Server"/></testcase>',
    )
    other = junit(
        tmp_path, "b.xml", '<testcase classname="test_mongo_sink" name="t"><skipped message="x"/></testcase>'
    )
    summary = [sys.executable, HELPERS / "junit_summary.py"]
    assert subprocess.run([*summary, seed], capture_output=True, check=False).returncode == 0
    assert subprocess.run([*summary, seed, other], capture_output=True, check=False).returncode == 1
    assert (
        subprocess.run(
            [*summary, seed, tmp_path / "missing.xml"], capture_output=True, check=False
        ).returncode
        == 1
    )


def merged(service: str) -> dict[str, Any]:
    """docker-compose.yml with deploy/compose/standin-<service>.yml merged the way Compose merges it."""
    override = yaml.safe_load((HELPERS / f"standin-{service}.yml").read_text())
    result = json.loads(json.dumps(BASE))
    for name, changes in override["services"].items():
        assert name in result["services"], f"{service} stand-in changes unknown service {name}"
        target = result["services"][name]
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key] = {**target[key], **value}
            else:
                target[key] = value
    return result


@pytest.mark.parametrize("service", list(STANDINS))
def test_each_stand_in_replaces_only_its_third_party_image(service: str) -> None:
    stack = merged(service)
    schema = json.loads(
        (resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    )
    assert list(jsonschema.Draft7Validator(schema).iter_errors(stack)) == []
    target = STANDINS[service]
    for name, definition in stack["services"].items():
        before = BASE["services"][name]
        if definition.get("image") != before.get("image"):
            assert definition["image"] == f"tradestore-standin-{target}:${{TRADESTORE_TAG:-local}}", name
            assert definition["pull_policy"] == "never"
            assert before["image"].split(":")[0] in {
                "docker.redpanda.com/redpandadata/redpanda",
                "mongo",
                "mcr.microsoft.com/mssql/server",
            }
        changed_env = {
            k
            for k, v in definition.get("environment", {}).items()
            if before.get("environment", {}).get(k) != v
        }
        assert changed_env <= {"SQL_URL"}, (name, changed_env)
        assert definition.get("ports") == before.get("ports"), name  # same published ports
    dockerfile = (HELPERS / "standins/Dockerfile").read_text()
    assert re.search(rf"^FROM \S+ AS {target}$", dockerfile, re.MULTILINE)


def test_the_sql_stand_in_keeps_the_stack_database_apart_from_the_sql_suite() -> None:
    services = merged("mssql")["services"]
    urls = {
        name: s["environment"]["SQL_URL"]
        for name, s in services.items()
        if "SQL_URL" in s.get("environment", {})
    }
    assert all(url.startswith("postgresql+psycopg://sa:${MSSQL_SA_PASSWORD:?") for url in urls.values()), urls
    assert urls["kafkaconsumermssql-tests"].endswith("/tempdb")
    assert urls["kafkaconsumermssql"].endswith("/master")
    script = (HELPERS / "standins/postgres-as-mssql.sh").read_text()
    assert "for db in master tempdb" in script
    assert "-E UTF8" in script  # SQL_ASCII would hand psycopg bytes instead of text


def test_the_build_ca_bundle_is_a_build_stage_input_never_in_the_runtime_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]
    runtime = next(s for s in stages if s.split()[2] == "runtime")
    assert "build-ca" not in runtime
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "deploy/compose/ca/ca.pem" in dockerfile  # documented in the header
    assert "!deploy/compose/ca/" in (ROOT / ".dockerignore").read_text()
    assert "deploy/compose/ca/*.pem" in (ROOT / ".gitignore").read_text()


def test_ci_runs_the_suite_then_the_compose_test() -> None:
    lines = [
        line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")
    ]
    commands = [line.split()[0] for line in lines if line.startswith("scripts/")]
    assert commands == ["scripts/test", "scripts/compose-test"]
    assert "set -euo pipefail" in lines


def test_dependabot_watches_actions_docker_and_pip() -> None:
    config = yaml.safe_load((ROOT / ".github/dependabot.yml").read_text())
    schema = json.loads(
        (resources.files("check_jsonschema.builtin_schemas.vendor") / "dependabot.json").read_text()
    )
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(config)) == []
    assert {"github-actions", "docker", "pip"} <= {u["package-ecosystem"] for u in config["updates"]}


# Majors whose action.yml runs on Node 24 (node20 is deprecated on GitHub's runners).
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6, "actions/upload-artifact": 6}


def test_pinned_actions_are_node24_releases() -> None:
    text = (ROOT / ".github/workflows/ci.yml").read_text()
    pins = re.findall(r"uses: ([\w.-]+/[\w.-]+)@[0-9a-f]{40} # v(\d+)", text)
    assert pins
    for action, major in pins:
        assert int(major) >= NODE24_MAJORS.get(action, 0), f"{action} v{major} runs on an old Node"
