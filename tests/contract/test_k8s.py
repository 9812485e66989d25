"""Kubernetes manifests (deploy/k8s) agree with the Kubernetes schemas, the code and docker-compose.yml.

Offline: the schemas ship with the pinned kubernetes-validate package (requirements/test.lock.txt).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.settings import PLACEHOLDER_SECRETS, Settings
from tradedata.auth.policy import auth_problem
from tradestore.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
PERFORMANCE = (ROOT / "docs" / "performance.md").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()

SETTINGS_VARS = {name.upper() for name in Settings.model_fields}
SECRET_VARS = {name.upper() for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}
# Oldest Kubernetes release we claim (autoscaling/v2 and policy/v1 are GA well before) and the newest the
# pinned package knows; strict: an unknown or misspelt field fails.
K8S_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
SAMPLE_SECRET = "Sample-Secret-For-Tests-7f3a"  # stands in for a real secret of the operator's

# Each workload of the manifests and the compose service it corresponds to.
WORKLOADS = {
    ("Deployment", "tradedata"): "tradedata",
    ("StatefulSet", "kafkaconsumer"): "kafkaconsumer",
    ("StatefulSet", "kafkaconsumermssql"): "kafkaconsumermssql",
    ("Job", "tradestore-migrate"): "mssql-init",
}
SINKS = {"kafkaconsumer": "mongo", "kafkaconsumermssql": "sql"}
# Settings the manifests set and compose does not, each with its reason.
K8S_ONLY = {
    "tradedata": {
        "MONGO_URL": "the read API (GET /trades) reads MongoDB; compose leaves it at the default address",
        "MONGO_DB": "the read API's database, as the Mongo sink's",
    },
    "kafkaconsumer": {"CONSUMER_INSTANCE_ID": "the pod name: static membership (compose scales anonymously)"},
    "kafkaconsumermssql": {"CONSUMER_INSTANCE_ID": "the pod name: static membership"},
    "mssql-init": {},
}
# Settings both set on purpose to different values, each with its reason.
DIFFERENT_VALUES = {
    "KAFKA_BOOTSTRAP_SERVERS": "the cluster's Kafka, not compose's redpanda container",
    "TRADES_TOPIC_PARTITIONS": "12 in production: the partitions bound the sink replicas (docs/scaling.md)",
    "TRADEDATA_WORKERS": "one process per pod: the HorizontalPodAutoscaler adds pods",
}
# Peak RSS rows of docs/performance.md behind each container's memory (the Job loads what the SQL sink loads).
RSS_ROW = {
    "tradedata": "API peak RSS",
    "kafkaconsumer": "mongo consumer peak RSS",
    "kafkaconsumermssql": "sql consumer peak RSS",
    "migrate": "sql consumer peak RSS",
}


def load_manifests() -> list[dict[str, Any]]:
    docs = []
    for name in KUSTOMIZATION["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


DOCS = load_manifests()


def find(kind: str, name: str, docs: list[dict[str, Any]] = DOCS) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def workloads() -> Iterator[tuple[dict[str, Any], str]]:
    for (kind, name), service in WORKLOADS.items():
        yield find(kind, name), service


def config_data(kind: str, name: str, docs: list[dict[str, Any]]) -> dict[str, str]:
    doc = find(kind, name, docs)
    data: dict[str, str] = {**doc.get("data", {}), **doc.get("stringData", {})}
    return data


def container_env(container: dict[str, Any], docs: list[dict[str, Any]] = DOCS) -> dict[str, tuple[str, str]]:
    """Every variable the container gets: name -> (source, value); source: configmap secret field literal."""
    env: dict[str, tuple[str, str]] = {}
    for ref in container.get("envFrom", []):
        assert "prefix" not in ref, "a prefix would rename the settings"
        kind, key = ("ConfigMap", "configMapRef") if "configMapRef" in ref else ("Secret", "secretRef")
        source = "configmap" if kind == "ConfigMap" else "secret"
        for name, value in config_data(kind, ref[key]["name"], docs).items():
            env[name] = (source, str(value))
    for item in container.get("env", []):
        source_ref = item.get("valueFrom", {})
        if "value" in item:
            env[item["name"]] = ("literal", str(item["value"]))
        elif "configMapKeyRef" in source_ref:
            ref = source_ref["configMapKeyRef"]
            env[item["name"]] = ("configmap", config_data("ConfigMap", ref["name"], docs)[ref["key"]])
        elif "secretKeyRef" in source_ref:
            ref = source_ref["secretKeyRef"]
            env[item["name"]] = ("secret", config_data("Secret", ref["name"], docs)[ref["key"]])
        else:
            env[item["name"]] = ("field", source_ref["fieldRef"]["fieldPath"])
    return env


def settings_env(container: dict[str, Any], docs: list[dict[str, Any]] = DOCS) -> dict[str, str]:
    """The container's variables as the process sees them (a field reference becomes a sample pod name)."""
    return {
        name: ("kafkaconsumer-0" if source == "field" else value)
        for name, (source, value) in container_env(container, docs).items()
    }


def with_real_secrets(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifests after the operator replaced the placeholders, as deploy/k8s/README.md asks."""
    docs = copy.deepcopy(docs)
    for doc in docs:
        if doc["kind"] == "Secret":
            doc["stringData"] = {
                k: v.replace("changeme", SAMPLE_SECRET) for k, v in doc["stringData"].items()
            }
    return docs


def load_settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def compose_env(service: str) -> dict[str, str]:
    """A compose service's environment with an empty shell environment (defaults taken)."""
    env = COMPOSE[service].get("environment", {})
    return {k: re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", str(v)) for k, v in env.items()}


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"no container port named {port!r}"
    return int(named[port])


def mebibytes(quantity: str) -> float:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match, f"memory as Mi or Gi: {quantity}"
    return int(match[1]) * (1024 if match[2] == "Gi" else 1)


def measured_rss(row: str) -> float:
    match = re.search(rf"│ {re.escape(row)}\s*│\s*([\d.,]+) │\s*MiB", PERFORMANCE)
    assert match, f"docs/performance.md has no `{row}` row in MiB: the memory sizing depends on it"
    return float(match[1].replace(",", ""))


# ---- schemas and wiring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_strictly_against_the_kubernetes_schemas(version: str) -> None:
    errors = []
    for doc in DOCS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {list(error.path)}: {error.message}")
    assert errors == []


def test_the_validator_refuses_a_misspelt_field_and_a_wrong_type() -> None:
    """Guards the test above: a schema lookup that silently passes everything would make it vacuous."""
    deployment = copy.deepcopy(find("Deployment", "tradedata"))
    container = pod_spec(deployment)["containers"][0]
    container["readynessProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)
    hpa = copy.deepcopy(find("HorizontalPodAutoscaler", "tradedata"))
    hpa["spec"]["minReplicas"] = "2"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(hpa, K8S_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest_and_pins_the_image() -> None:
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(KUSTOMIZATION["resources"]) == sorted(on_disk)
    assert KUSTOMIZATION["namespace"] == find("Namespace", "tradestore")["metadata"]["name"]
    assert all(d["metadata"].get("namespace") is None for d in DOCS), "the kustomization sets the namespace"
    [image] = KUSTOMIZATION["images"]
    assert image["name"] == "tradestore"
    assert re.fullmatch(r"\d+\.\d+\.\d+", image["newTag"]), image
    for workload, _ in workloads():
        for container in pod_spec(workload)["containers"]:
            assert container["image"] == "tradestore"
            assert "command" not in container, "the image's entrypoint is `tradestore`"


def test_every_reference_resolves() -> None:
    """Services, PDBs and the HPA select or name an existing workload; every config reference exists."""
    for workload, _ in workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selector = workload["spec"].get("selector", {}).get("matchLabels", {})
        assert selector.items() <= labels.items(), workload["metadata"]["name"]
        for container in pod_spec(workload)["containers"]:
            container_env(container)  # raises on a missing ConfigMap, Secret or key
    for doc in DOCS:
        if doc["kind"] in ("Service", "PodDisruptionBudget"):
            selector = doc["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            kinds = ("Deployment", "StatefulSet")
            targets = [
                d for d in DOCS if d["kind"] in kinds and d["metadata"]["name"] == doc["metadata"]["name"]
            ]
            assert len(targets) == 1, f"{doc['kind']}/{doc['metadata']['name']} names no workload"
            labels = targets[0]["spec"]["template"]["metadata"]["labels"]
            assert selector, doc["metadata"]["name"]
            assert selector.items() <= labels.items(), doc["metadata"]["name"]
        if doc["kind"] == "Service":
            container = pod_spec(targets[0])["containers"][0]
            for port in doc["spec"]["ports"]:
                port_number(container, port["targetPort"])


def test_every_command_is_the_compose_command_and_a_tradestore_subcommand() -> None:
    for workload, service in workloads():
        [container] = pod_spec(workload)["containers"]
        assert container["args"] == COMPOSE[service]["command"], service
        build_parser().parse_args(container["args"])


# ---- one source of truth for settings ------------------------------------------------------------------


def test_every_variable_and_config_key_is_a_settings_field() -> None:
    for workload, _ in workloads():
        for container in pod_spec(workload)["containers"]:
            assert set(container_env(container)) - SETTINGS_VARS == set(), workload["metadata"]["name"]
    for doc in DOCS:
        if doc["kind"] in ("ConfigMap", "Secret"):
            keys = set(doc.get("data", {})) | set(doc.get("stringData", {}))
            assert keys - SETTINGS_VARS == set(), doc["metadata"]["name"]


@pytest.mark.parametrize("service", list(WORKLOADS.values()))
def test_manifests_set_the_settings_compose_sets(service: str) -> None:
    workload = next(w for w, s in workloads() if s == service)
    [container] = pod_spec(workload)["containers"]
    ours, theirs = container_env(container), compose_env(service)
    assert set(theirs) - set(ours) == set(), f"{service}: compose sets these, the manifests do not"
    assert set(ours) - set(theirs) - set(K8S_ONLY[service]) == set(), f"{service}: not in compose"
    for name in set(ours) & set(theirs):
        source, value = ours[name]
        if source == "secret" or name in DIFFERENT_VALUES:
            continue  # a secret's value is the operator's; the differences are listed with their reasons
        assert value == theirs[name], f"{service}: {name}={value!r}, compose {theirs[name]!r}"


def test_secrets_come_from_the_secret_and_nothing_else_does() -> None:
    secret_keys = set(config_data("Secret", "tradestore-secrets", DOCS))
    assert secret_keys <= SECRET_VARS
    for workload, _ in workloads():
        for container in pod_spec(workload)["containers"]:
            for name, (source, _) in container_env(container).items():
                assert (source == "secret") == (name in SECRET_VARS), (workload["metadata"]["name"], name)


def refusal(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, api: bool) -> str | None:
    """Why a service with this environment would not start in production (Settings; the API's own check)."""
    try:
        settings = load_settings_from(env, monkeypatch)
    except ValueError as error:  # pydantic's ValidationError
        return str(error)
    return auth_problem(settings) if api else None


@pytest.mark.parametrize("service", list(WORKLOADS.values()))
def test_each_committed_placeholder_is_refused_and_real_secrets_load_in_production(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Secret applied as committed stops the pods; so does any one placeholder left among real values."""
    key = next(k for k, s in WORKLOADS.items() if s == service)
    real_docs = with_real_secrets(DOCS)
    [container] = pod_spec(find(*key))["containers"]
    placeholders = settings_env(container)
    real = settings_env(pod_spec(find(*key, docs=real_docs))["containers"][0], real_docs)
    assert placeholders["TRADESTORE_ENV"] == "production"
    api = container["args"] == ["api"]
    assert refusal(real, monkeypatch, api) is None, f"{service} must start once the secrets are real"
    secrets = [name for name, (source, _) in container_env(container).items() if source == "secret"]
    assert secrets, service
    for name in secrets:
        assert any(p in placeholders[name] for p in PLACEHOLDER_SECRETS), name
        why = refusal({**real, name: placeholders[name]}, monkeypatch, api)
        assert why is not None, f"{service}: a placeholder {name} is accepted in production"
        assert "placeholder" in why, why


def test_the_api_protects_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = with_real_secrets(DOCS)
    [container] = pod_spec(find("Deployment", "tradedata", docs))["containers"]
    settings = load_settings_from(settings_env(container, docs), monkeypatch)
    assert settings.api_keys(), "the API authenticates"
    assert not settings.tradedata_open_reads, "reads need a principal with trades:read, as writes do"
    assert not settings.tradedata_allow_anonymous


# ---- the production shape ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SINKS))
def test_each_sink_is_a_statefulset_whose_pod_name_is_its_instance_id(name: str) -> None:
    sts = find("StatefulSet", name)
    [container] = pod_spec(sts)["containers"]
    assert container["args"] == ["consume", SINKS[name]]
    instance = next(e for e in container["env"] if e["name"] == "CONSUMER_INSTANCE_ID")
    assert instance["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert "CONSUMER_GROUP" not in container_env(container), (
        "every member of one sink shares its default group"
    )
    service = find("Service", sts["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None", "a StatefulSet's governing Service is headless"
    assert sts["spec"]["podManagementPolicy"] == "Parallel"


@pytest.mark.parametrize("name", list(SINKS))
def test_sink_replicas_do_not_exceed_the_partitions(name: str) -> None:
    sts = find("StatefulSet", name)
    partitions = int(settings_env(pod_spec(sts)["containers"][0])["TRADES_TOPIC_PARTITIONS"])
    assert 2 <= sts["spec"]["replicas"] <= partitions


def test_the_api_is_a_deployment_scaled_by_a_cpu_autoscaler() -> None:
    deployment = find("Deployment", "tradedata")
    assert "replicas" not in deployment["spec"], "the HorizontalPodAutoscaler owns the replica count"
    hpa = find("HorizontalPodAutoscaler", "tradedata")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "tradedata",
    }
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    [container] = pod_spec(deployment)["containers"]
    assert "cpu" in container["resources"]["requests"], "utilisation is measured against the request"
    assert find("Service", "tradedata")["spec"].get("clusterIP") != "None"


@pytest.mark.parametrize("key", [k for k in WORKLOADS if k[0] != "Job"])
def test_probes_ask_ready_and_health_on_the_service_port(key: tuple[str, str]) -> None:
    workload = find(*key)
    [container] = pod_spec(workload)["containers"]
    env = settings_env(container)
    port_var = "TRADEDATA_PORT" if key[0] == "Deployment" else "METRICS_PORT"
    expected_port = int(env[port_var])
    for probe, path in (
        ("readinessProbe", "/ready"),
        ("livenessProbe", "/health"),
        ("startupProbe", "/health"),
    ):
        get = container[probe]["httpGet"]
        assert get["path"] == path, (key, probe)
        assert port_number(container, get["port"]) == expected_port, (key, probe)


def test_every_workload_has_a_disruption_budget_that_lets_a_node_drain() -> None:
    for kind, name in WORKLOADS:
        if kind == "Job":
            continue
        pdb = find("PodDisruptionBudget", name)
        assert pdb["apiVersion"] == "policy/v1"
        assert pdb["spec"].get("maxUnavailable") == 1 or "minAvailable" in pdb["spec"], name


@pytest.mark.parametrize("key", list(WORKLOADS))
def test_memory_is_sized_from_the_measured_peak_rss(key: tuple[str, str]) -> None:
    [container] = pod_spec(find(*key))["containers"]
    resources = container["resources"]
    peak = measured_rss(RSS_ROW[container["name"]])
    request = mebibytes(resources["requests"]["memory"])
    limit = mebibytes(resources["limits"]["memory"])
    assert request >= 1.5 * peak, f"{key}: request {request} MiB under 1.5x the measured {peak} MiB"
    assert limit >= 2 * request, key
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert {"cpu", "memory"} <= set(resources["limits"])


@pytest.mark.parametrize("key", list(WORKLOADS))
def test_pods_run_non_root_read_only_without_privilege_escalation(key: tuple[str, str]) -> None:
    spec = pod_spec(find(*key))
    image_uid = int(re.findall(r"^USER (\d+)", DOCKERFILE, re.MULTILINE)[-1])
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == image_uid != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx.get("privileged", False) is False
        assert ctx["capabilities"]["drop"] == ["ALL"]
        assert "add" not in ctx["capabilities"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == mounts["/tmp"])
    labels = find("Namespace", "tradestore")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_migration_is_a_job_with_the_sql_url_from_the_secret() -> None:
    job = find("Job", "tradestore-migrate")
    spec = pod_spec(job)
    [container] = spec["containers"]
    assert container["args"][0] == "migrate"
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["backoffLimit"] >= 1
    assert container_env(container)["SQL_URL"][0] == "secret"
