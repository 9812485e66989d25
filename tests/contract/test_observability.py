"""The observability profile agrees with the code: the dashboard queries only metrics that src defines,
Prometheus scrapes the ports compose serves them on, Grafana is provisioned from the files compose mounts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "deploy" / "observability"
DASHBOARD: dict[str, Any] = json.loads((OBS / "grafana" / "dashboards" / "tradestore.json").read_text())
PROMETHEUS: dict[str, Any] = yaml.safe_load((OBS / "prometheus.yml").read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DATASOURCES = yaml.safe_load(
    (OBS / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
)
PROVIDERS = yaml.safe_load((OBS / "grafana" / "provisioning" / "dashboards" / "tradestore.yml").read_text())
BUILTIN = {"up"}  # synthesised by Prometheus for every target
METRIC_DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
SUFFIXES = {
    "Counter": ["_total"],
    "Gauge": [""],
    "Histogram": ["_bucket", "_sum", "_count"],
    "Summary": ["_sum", "_count"],
}


def defined_metrics() -> set[str]:
    """Every sample name the prometheus_client metrics defined under src/ expose."""
    names: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        for kind, name in METRIC_DEFINITION.findall(path.read_text()):
            base = name.removesuffix("_total") if kind == "Counter" else name
            names.update(base + suffix for suffix in SUFFIXES[kind])
    return names


def queried_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers not followed by '(' that are not label names,
    keywords or durations."""
    without_labels = re.sub(r"\{[^}]*\}", "", re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr))
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    tokens = {
        m[0]
        for m in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges)
        if not without_ranges[m.end() :].lstrip().startswith("(")  # a function, not a metric
    }
    return tokens - {"by", "without", "on", "ignoring", "offset", "bool"}


def targets() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in DASHBOARD["panels"] for t in p["targets"]]


def test_dashboard_is_a_provisionable_grafana_dashboard() -> None:
    assert DASHBOARD["uid"] == "tradestore-pipeline"
    assert DASHBOARD["title"]
    assert DASHBOARD["editable"] is False
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)) >= 6
    for panel in DASHBOARD["panels"]:
        assert panel["type"] in {"timeseries", "stat"}, panel["title"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))


def test_every_query_uses_the_provisioned_datasource() -> None:
    (source,) = DATASOURCES["datasources"]
    assert source["url"] == "http://prometheus:9090"
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])


@pytest.mark.parametrize(("title", "expr"), targets())
def test_every_metric_the_dashboard_queries_is_defined_in_src(title: str, expr: str) -> None:
    queried = queried_metrics(expr)
    assert queried, expr
    missing = queried - defined_metrics() - BUILTIN
    assert not missing, (
        f"panel {title!r} queries metrics that no prometheus_client metric in src defines: {missing}"
    )


def test_the_metric_name_extraction_sees_through_promql() -> None:
    expr = "histogram_quantile(0.99, sum by (le) (rate(tradestore_batch_seconds_bucket{sink='x'}[5m]))) * 60"
    assert queried_metrics(expr) == {"tradestore_batch_seconds_bucket"}
    assert "tradestore_persisted_total" in defined_metrics()
    assert queried_metrics("sum(rate(tradestore_nope_total[1m]))") - defined_metrics() == {
        "tradestore_nope_total"
    }
    assert "tradestore_batch_seconds_bucket" in defined_metrics()


def test_prometheus_scrapes_the_ports_compose_serves_metrics_on() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    assert set(jobs) == {"kafkaconsumer", "kafkaconsumermssql", "tradedata"}
    for sink in ("kafkaconsumer", "kafkaconsumermssql"):
        (sd,) = jobs[sink]["dns_sd_configs"]
        assert sd["names"] == [sink]
        assert sd["port"] == int(SERVICES[sink]["environment"]["METRICS_PORT"])
    api = jobs["tradedata"]
    assert api["static_configs"][0]["targets"] == [
        f"tradedata:{SERVICES['tradedata']['environment']['TRADEDATA_PORT']}"
    ]
    secret = Path(api["authorization"]["credentials_file"]).name
    assert secret in SERVICES["prometheus"]["secrets"]
    assert secret in COMPOSE["secrets"]


def test_observability_services_are_in_their_profile_and_mount_these_files() -> None:
    for name in ("prometheus", "grafana"):
        assert SERVICES[name]["profiles"] == ["observability"]
    mounts = {v.split(":")[1]: ROOT / v.split(":")[0] for v in SERVICES["grafana"]["volumes"]}
    assert mounts[PROVIDERS["providers"][0]["options"]["path"]] == OBS / "grafana" / "dashboards"
    assert mounts["/etc/grafana/provisioning"] == OBS / "grafana" / "provisioning"
    prom = {v.split(":")[1]: ROOT / v.split(":")[0] for v in SERVICES["prometheus"]["volumes"]}
    assert prom["/etc/prometheus/prometheus.yml"] == OBS / "prometheus.yml"
