"""Deployment files agree with the code: compose, Dockerfile, .env.example and CI, checked without Docker."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared.settings import PLACEHOLDER_SECRETS, Settings
from tradestore.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
VENDORED = "check_jsonschema.builtin_schemas.vendor"
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
WORKFLOW: dict[Any, Any] = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())

SETTINGS_VARS = {name.upper() for name in Settings.model_fields}
THIRD_PARTY_ENV = {"mssql": {"ACCEPT_EULA", "MSSQL_PID", "MSSQL_SA_PASSWORD", "MSSQL_MEMORY_LIMIT_MB"}}
HOST_PORTS = {"TRADEDATA_PORT": 8001, "KAFKA_PORT": 19092, "MONGO_PORT": 27017, "MSSQL_PORT": 1433}
HOST_PORTS |= {"PROMETHEUS_PORT": 9090, "GRAFANA_PORT": 3000}  # profile observability (deploy/observability)
SAMPLE_PASSWORD = "Sample-Passw0rd-For-Tests"  # stands in for ${MSSQL_SA_PASSWORD:?...}
SEED_PASSWORD = next(p for p in PLACEHOLDER_SECRETS if p.startswith("YourStrong"))


def interpolate(value: Any) -> str:
    """Compose interpolation with an empty environment: defaults, a sample for required vars, $$ -> $."""
    text = str(value)
    text = re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", text)
    text = re.sub(r"\$\{(\w+):\?[^}]*\}", SAMPLE_PASSWORD, text)
    return text.replace("$$", "$")


def ours(name: str) -> bool:
    return str(SERVICES[name].get("image", "")).startswith("tradestore:")


def uses_tests_image(name: str) -> bool:
    return str(SERVICES[name].get("image", "")).startswith("tradestore-tests:")


def run_lines() -> Iterator[tuple[str, str]]:
    for job_name, job in WORKFLOW["jobs"].items():
        for step in job["steps"]:
            if "run" in step:
                yield job_name, step["run"]


def vendored_schema(name: str) -> dict[str, Any]:
    """A schema vendored by the pinned check-jsonschema package (requirements/test.lock.txt).

    The schemas are taken from that package rather than copied into this repository.
    """
    schema: dict[str, Any] = json.loads((resources.files(VENDORED) / name).read_text())
    return schema


def test_compose_file_validates_against_the_compose_spec_schema() -> None:
    schema = vendored_schema("compose-spec.json")
    jsonschema.Draft7Validator.check_schema(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(COMPOSE)]
    assert errors == []


def test_workflow_validates_against_the_github_workflow_schema() -> None:
    schema = vendored_schema("github-workflows.json")
    validator = jsonschema.validators.validator_for(schema)(schema)
    # PyYAML reads the bare key `on` as True; GitHub reads it as the string "on".
    workflow = {("on" if k is True else k): v for k, v in WORKFLOW.items()}
    assert [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(workflow)] == []


@pytest.mark.parametrize("name", [n for n in SERVICES if ours(n)])
def test_every_service_command_is_a_tradestore_subcommand(name: str) -> None:
    argv = [interpolate(arg) for arg in SERVICES[name]["command"]]
    assert "entrypoint" not in SERVICES[name], "our services run the image's `tradestore` entrypoint"
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"compose service {name!r} runs `tradestore {shlex.join(argv)}`, which the CLI rejects")


@pytest.mark.parametrize("name", list(SERVICES))
def test_compose_sets_only_environment_variables_that_something_reads(name: str) -> None:
    env = set(SERVICES[name].get("environment", {}))
    # Our image reads Settings only (TRADEDATA_URL included); other images get an explicit list.
    allowed = SETTINGS_VARS if ours(name) or uses_tests_image(name) else THIRD_PARTY_ENV.get(name, set())
    assert env - allowed == set()


@pytest.mark.parametrize("name", [n for n in SERVICES if ours(n)])
def test_our_services_settings_load_in_production(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {key: interpolate(value) for key, value in SERVICES[name]["environment"].items()}
    assert env["TRADESTORE_ENV"] == "production"
    for key, value in env.items():
        if key in SETTINGS_VARS:
            monkeypatch.setenv(key, value)
    Settings()  # types, ranges and the production placeholder check


def test_mssql_init_applies_the_sql_sink_ddl_with_tradestore_migrate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    init = SERVICES["mssql-init"]
    assert ours("mssql-init")
    assert init["command"][0] == "migrate"
    assert init["depends_on"]["mssql"]["condition"] == "service_healthy"
    assert interpolate(init["environment"]["SQL_URL"]).startswith("mssql+pymssql://sa:")
    sink_deps = SERVICES["kafkaconsumermssql"]["depends_on"]
    assert sink_deps["mssql-init"]["condition"] == "service_completed_successfully"
    assert main(["migrate", "--print-ddl", "mssql"]) == 0  # the DDL comes from the sink's schema module
    assert re.search(r"CREATE TABLE\s+\S*trades", capsys.readouterr().out, re.IGNORECASE)


def test_dependencies_wait_for_health_or_completion() -> None:
    for name, service in SERVICES.items():
        for dep, rule in service.get("depends_on", {}).items():
            assert rule["condition"] in {"service_healthy", "service_completed_successfully"}, (name, dep)
            if rule["condition"] == "service_healthy":  # our image carries a HEALTHCHECK
                assert "healthcheck" in SERVICES[dep] or ours(dep), (name, dep)
                assert not SERVICES[dep].get("healthcheck", {}).get("disable"), (name, dep)
            else:
                assert SERVICES[dep].get("restart") == "no", (name, dep)


def test_every_host_port_is_configurable_with_the_seed_default() -> None:
    seen = {}
    for service in SERVICES.values():
        for port in service.get("ports", []):
            match = re.fullmatch(r"(?:127\.0\.0\.1:)?\$\{(\w+):-(\d+)\}:(\d+)", str(port))
            assert match, f"host port not configurable: {port}"
            seen[match[1]] = int(match[2])
    assert seen == HOST_PORTS


def test_stores_and_kafka_are_published_on_the_loopback_interface_only() -> None:
    for name in ("redpanda", "mongo", "mssql"):
        for port in SERVICES[name]["ports"]:
            assert str(port).startswith("127.0.0.1:"), (name, port)


def memory_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)b?", str(value).lower()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit]


def test_every_service_has_a_memory_cap_and_the_stores_stay_under_theirs() -> None:
    for name, service in SERVICES.items():
        assert memory_bytes(service.get("mem_limit", "0")) > 0, f"{name} has no mem_limit"
    mssql = SERVICES["mssql"]
    sql_server_mb = int(mssql["environment"]["MSSQL_MEMORY_LIMIT_MB"])
    assert 2048 <= sql_server_mb * 2**20 < memory_bytes(mssql["mem_limit"])  # SQL Server needs 2 GB at least
    mongo_args = SERVICES["mongo"]["command"]
    cache_gb = float(mongo_args[mongo_args.index("--wiredTigerCacheSizeGB") + 1])
    assert cache_gb * 2**30 < memory_bytes(SERVICES["mongo"]["mem_limit"]) / 2


def test_the_api_reads_trades_from_the_stacks_mongodb() -> None:
    """The read API (GET /trades) opens MONGO_URL: without it the container tries 127.0.0.1, answers 503."""
    env = SERVICES["tradedata"]["environment"]
    assert (
        env["MONGO_URL"] == SERVICES["kafkaconsumer"]["environment"]["MONGO_URL"] == "mongodb://mongo:27017"
    )
    assert env["MONGO_DB"] == SERVICES["kafkaconsumer"]["environment"]["MONGO_DB"]


@pytest.mark.parametrize(
    ("name", "port"), [("tradedata", 8001), ("kafkaconsumer", 9100), ("kafkaconsumermssql", 9100)]
)
def test_service_healthchecks_probe_readiness_not_liveness(name: str, port: int) -> None:
    probe = " ".join(SERVICES[name]["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/ready" in probe
    if name != "tradedata":
        assert SERVICES[name]["environment"]["METRICS_PORT"] == port


def test_sa_password_only_comes_from_the_environment() -> None:
    assert (
        SERVICES["mssql"]["environment"]["MSSQL_SA_PASSWORD"] == "${MSSQL_SA_PASSWORD:?set MSSQL_SA_PASSWORD}"
    )
    for name, service in SERVICES.items():
        url = service.get("environment", {}).get("SQL_URL")
        if url and url.startswith("mssql"):
            assert "sa:${MSSQL_SA_PASSWORD:?" in url, name
    assert re.findall(r"sa:(?!\$\{)[^@\s]+@", COMPOSE_TEXT) == []


def test_third_party_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        if ours(name) or uses_tests_image(name):
            continue
        _, _, tag = service["image"].rpartition(":")
        assert re.search(r"\d", tag), service["image"]
        assert "latest" not in tag, service["image"]
    assert re.search(r":2022-CU\d+", SERVICES["mssql"]["image"])


def test_topics_are_created_with_the_configured_partitions() -> None:
    script = " ".join(SERVICES["redpanda-init"]["command"])
    assert "trades trades.dlq" in script
    assert "-p ${TRADES_TOPIC_PARTITIONS:-4}" in script
    for name in ("tradedata", "kafkaconsumer", "kafkaconsumermssql"):
        assert SERVICES[name]["depends_on"]["redpanda-init"]["condition"] == "service_completed_successfully"


TEST_SERVICES = ("tradedata-tests", "kafkaconsumer-tests", "kafkaconsumermssql-tests")


def selection(name: str) -> str:
    command = [str(arg) for arg in SERVICES[name]["command"]]
    assert "-k" not in command, f"{name} selects by name substring; select by marker (-m)"
    return command[command.index("-m") + 1]


def test_test_profile_selects_by_marker_and_each_test_runs_where_its_services_are() -> None:
    """Every combination of the service markers lands in exactly one suite, one whose container has the
    URLs it needs; local_only tests run nowhere; sql tests never in the stack's own database."""
    from _pytest.mark.expression import Expression

    registered = {m.split(":")[0] for m in PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]}
    needs = {
        "e2e": {"TRADEDATA_URL", "KAFKA_BOOTSTRAP_SERVERS", "MONGO_URL", "SQL_URL"},
        "mongo": {"KAFKA_BOOTSTRAP_SERVERS", "MONGO_URL"},
        "sql": {"KAFKA_BOOTSTRAP_SERVERS", "SQL_URL"},
    }
    assert set(needs) | {"local_only"} <= registered
    expressions = {name: Expression.compile(selection(name)) for name in TEST_SERVICES}
    for size in range(len(needs) + 2):
        for marks in itertools.combinations([*needs, "local_only"], size):
            runs_in = [n for n, e in expressions.items() if e.evaluate(lambda m, marks=marks: m in marks)]
            assert len(runs_in) == (0 if "local_only" in marks else 1), (marks, runs_in)
            for name in runs_in:
                env = set(SERVICES[name]["environment"])
                for mark in marks:
                    assert needs[mark] <= env, (marks, name)
    stack_db = SERVICES["kafkaconsumermssql"]["environment"]["SQL_URL"].rsplit("/", 1)[1]
    for name, expression in expressions.items():
        if expression.evaluate(lambda m: m == "sql"):
            assert SERVICES[name]["environment"]["SQL_URL"].rsplit("/", 1)[1] != stack_db, name


def test_no_test_records_junit_properties_that_xunit2_reports_refuse() -> None:
    """record_property / record_xml_attribute warn under junit_family xunit2 (pytest's default), and
    filterwarnings=error turns that into a failure whenever --junitxml is given (CI, compose)."""
    family = PYPROJECT["tool"]["pytest"]["ini_options"].get("junit_family", "xunit2")
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("*.py")
        if family == "xunit2" and re.search(r"\brecord_(property|xml_attribute)\s*[:,)]", path.read_text())
    ]
    assert offenders == []
    assert "--junitxml=" in (ROOT / ".ci/run").read_text()


def test_test_profile_runs_the_integration_suite_into_reports() -> None:
    for name in TEST_SERVICES:
        service = SERVICES[name]
        assert uses_tests_image(name), name
        assert service["profiles"] == ["test"], name
        assert "./reports:/reports" in service["volumes"], name
        assert (ROOT / service["command"][1]).is_dir(), name
        assert any(arg.startswith("--junitxml=/reports/") for arg in service["command"]), name
    runner = SERVICES["regression-runner"]
    assert runner["profiles"] == ["regression"]
    assert runner["command"] == [
        "regress",
        "-n",
        "${REGRESS_N:-1000}",
    ]


def test_env_example_lists_only_compose_variables_and_no_secret() -> None:
    entries = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value.strip()
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_TEXT))
    assert set(entries) - used == set()
    assert "MSSQL_SA_PASSWORD" in entries
    for key, value in entries.items():
        if re.search(r"PASSWORD|SECRET|TOKEN|KEY", key):
            assert value == "", f"{key} must be left empty in .env.example"
        assert value not in PLACEHOLDER_SECRETS, key


def test_dockerfile_final_stage_is_pinned_non_root_healthchecked_and_compiler_free() -> None:
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", DOCKERFILE, re.MULTILINE))
    stages = re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[1:]
    for stage in stages:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], stage.split()[0])
        assert ":" in image, image
        assert not image.endswith(":latest"), image
    final = stages[-1]
    assert final.split()[2] == SERVICES["tradedata"]["build"]["target"] == "runtime"
    users = re.findall(r"^USER (\S+)", final, re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert "HEALTHCHECK" in final
    assert "/health" in final
    assert not re.search(r"\b(gcc|g\+\+|clang|build-essential)\b", final)
    assert 'ENTRYPOINT ["tradestore"]' in final
    assert re.search(r"--require-hashes .*-r requirements/runtime\.lock\.txt", DOCKERFILE)
    assert "pip install --no-deps ." in DOCKERFILE


def test_workflow_pins_actions_and_runs_only_files_that_exist() -> None:
    for job in WORKFLOW["jobs"].values():
        assert 0 < job["timeout-minutes"] <= 25
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    for job_name, run in run_lines():
        for path in re.findall(
            r"(?<![\w/.-])((?:scripts|requirements|tests|deploy|src|docs)/[\w.*/-]*)", run
        ):
            assert list(ROOT.glob(path.rstrip("/"))), f"{job_name}: `{path}` does not exist"
        for service in re.findall(r"\b[\w-]+-tests\b|\bregression-runner\b", run):
            assert service in SERVICES, f"{job_name}: no compose service {service}"


def test_workflow_runs_the_gates_and_the_compose_test_with_a_fresh_password() -> None:
    jobs = WORKFLOW["jobs"]
    assert jobs["unit-contract"]["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    compose_runs = [step.get("run", "") for step in jobs["compose-integration"]["steps"]]
    assert "scripts/compose-test" in compose_runs  # the same command as .ci/run and a developer's
    assert "secrets." not in json.dumps(WORKFLOW), "no hand-chosen secret: compose-test makes one per run"
    script = (ROOT / "scripts/compose-test").read_text()
    assert 'echo "::add-mask::$MSSQL_SA_PASSWORD"' in script
    assert "trap cleanup EXIT" in script
    assert "down -v --remove-orphans" in script
    runs = "\n".join(run for _, run in run_lines())
    for lock in ("requirements/runtime.lock.txt", "requirements/test.lock.txt"):
        assert f"pip-audit --strict --require-hashes --disable-pip -r {lock}" in runs
    assert "bandit -c pyproject.toml -r src" in runs
    trivy = next(s for s in jobs["security"]["steps"] if "trivy-action" in s.get("uses", ""))
    assert trivy["with"]["severity"] == "HIGH,CRITICAL"
    assert trivy["with"]["ignore-unfixed"] is True


def test_lock_files_pin_every_requirement_with_hashes() -> None:
    for lock in ("runtime.lock.txt", "test.lock.txt"):
        text = (ROOT / "requirements" / lock).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\$", text, re.MULTILINE)
        assert pins, lock
        assert len(re.findall(r"^\S+==", text, re.MULTILINE)) == len(pins), lock
        assert text.count("--hash=sha256:") >= len(pins), lock


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed]


def test_no_seed_password_outside_docs_tests_and_the_placeholder_list() -> None:
    allowed = ("docs/", "tests/", "README.md", "src/shared/settings.py")
    offenders = []
    for path in tracked_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(allowed) or not path.is_file():
            continue
        if SEED_PASSWORD in path.read_text(errors="ignore"):
            offenders.append(rel)
    assert offenders == []
