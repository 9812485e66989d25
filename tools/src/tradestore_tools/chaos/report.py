"""The printed table of a fault run, and the same figures as JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from tradestore.reconcile import Reconciliation
from tradestore_tools.chaos.run import ChaosResult
from tradestore_tools.chaos.schedule import CHURN, FaultKind
from tradestore_tools.chaos.verify import StoreCheck


def _keys(keys: list[Any], limit: int = 20) -> list[str]:
    return [":".join(str(part) for part in key) for key in keys[:limit]]


def as_json(result: ChaosResult) -> dict[str, Any]:
    """Every figure of the table, the fault log and up to 20 offending keys per check."""
    p, rec = result.posting, result.reconciliation
    config = result.config
    return {
        "ok": result.ok,
        "command": {
            "n": config.n,
            "faults": config.faults,
            "seed": config.seed,
            "concurrency": config.concurrency,
            "instances": config.instances,
            "apis": config.apis,
            "window_s": config.window(),
        },
        "prefix": result.prefix,
        "workdir": str(result.workdir),
        "posts": p.posts,
        "acknowledged_2xx": p.acknowledged,
        "not_acknowledged": len(p.unacked),
        "retried_503": p.retried_503,
        "connection_errors": p.connection_errors,
        "rejected_4xx": len(p.rejected),
        "statuses": {str(k): v for k, v in sorted(p.statuses.items())},
        "posting_s": round(p.seconds, 1),
        "faults_by_kind": result.faults_by_kind,
        "faults_injected": sum(result.faults_by_kind.values()),
        "faults_after_posting": result.faults_after_posting,
        "faults_restored": result.faults_restored,
        "fault_log": _fault_log(result),
        "broker_link_connections": result.link_connections,
        "consumer_restarts": result.restarts,
        "churn_faults": sum(n for kind, n in result.faults_by_kind.items() if FaultKind(kind) in CHURN),
        "new_id_joins": result.joins,
        "assignment_changes": result.assignment_changes,
        "posts_per_api": result.posts_per_api,
        "partitions_unheld_at_end": result.unheld,
        "consumers_alive": result.consumers_alive,
        "stores": {s.store: _store_json(s, result.settled.get(s.store, 0.0)) for s in result.stores},
        "reconcile_clean": rec is not None and rec.clean,
        "reconcile": None if rec is None else _reconcile_json(rec),
        "api_peak_rss_mib": round(result.api_peak_rss_kib / 1024, 1),
        "duration_s": round(result.seconds, 1),
    }


def _fault_log(result: ChaosResult) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.fault.kind.value,
            "planned_s": r.fault.at_s,
            "started_s": round(r.started_s, 2),
            "ended_s": round(r.ended_s, 2),
            "duration_s": r.fault.duration_s,
            "latency_s": r.fault.latency_s,
            "error": r.error,
        }
        for r in result.faults
    ]


def _store_json(s: StoreCheck, settled_s: float) -> dict[str, Any]:
    return {
        "records": s.records,
        "settled_s": round(settled_s, 1),
        "lost": len(s.lost),
        "duplicated": len(s.duplicated),
        "regressions": len(s.regressions),
        "unexpected": len(s.unexpected),
        "delivered_despite_503": len(s.delivered_despite_503),
        "lost_dead_lettered": s.lost_dead_lettered,
        "lost_keys": _keys(s.lost),
        "duplicated_keys": _keys(s.duplicated),
        "regression_keys": _keys(s.regressions),
        "unexpected_keys": _keys(s.unexpected),
    }


def _reasons(counts: dict[str, int]) -> object:
    return ", ".join(f"{reason} {n}" for reason, n in counts.items()) or 0


def _reconcile_json(rec: Reconciliation) -> dict[str, Any]:
    return {
        "compared": rec.compared,
        "missing_in_sql": len(rec.missing_right),
        "missing_in_mongo": len(rec.missing_left),
        "different": len(rec.different),
    }


def print_report(result: ChaosResult, console: Console) -> None:
    data = as_json(result)
    table = Table(title=f"fault-injection run ({'PASSED' if result.ok else 'FAILED'})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in report_rows(data):
        table.add_row(name, str(value))
    console.print(table)
    for store, s in data["stores"].items():
        for what in ("lost", "duplicated", "regression", "unexpected"):
            if s[f"{what}_keys"]:
                console.print(f"[red]{store} {what}[/red]: {', '.join(s[f'{what}_keys'])}")
    for record in data["fault_log"]:
        if record["error"]:
            console.print(f"[red]fault {record['kind']} failed[/red]: {record['error']}")
    console.print(f"logs: {data['workdir']}/logs")


def report_rows(data: dict[str, Any]) -> list[tuple[str, object]]:
    """The table's rows, from the JSON figures."""
    rows: list[tuple[str, object]] = [
        ("trades posted", data["posts"]),
        ("answered 2xx (acknowledged)", data["acknowledged_2xx"]),
        ("never acknowledged", data["not_acknowledged"]),
        ("503s retried", data["retried_503"]),
        ("connection errors retried", data["connection_errors"]),
        ("posting time (s)", data["posting_s"]),
        ("API processes (posts each)", ", ".join(str(n) for n in data["posts_per_api"].values())),
        ("consumer instances per sink", data["command"]["instances"]),
        ("faults injected", data["faults_injected"]),
    ]
    rows += [(f"  {kind}", n) for kind, n in data["faults_by_kind"].items()]
    rows += [("  of them churn (membership)", data["churn_faults"])]
    rows += [("faults after the last post", data["faults_after_posting"])]
    rows += [("every fault restored", data["faults_restored"])]
    rows += [(f"broker connections via {k}", n) for k, n in data["broker_link_connections"].items()]
    for store, s in data["stores"].items():
        rows += [
            (f"{store}: records", s["records"]),
            (f"{store}: lost", s["lost"]),
            (f"{store}: lost, dead-lettered by its sink", _reasons(s.get("lost_dead_lettered", {}))),
            (f"{store}: duplicated", s["duplicated"]),
            (f"{store}: version regressions", s["regressions"]),
            (f"{store}: unexpected records", s["unexpected"]),
            (f"{store}: delivered despite 503", s["delivered_despite_503"]),
            (f"{store}: settled after (s)", s["settled_s"]),
        ]
    rows += [
        ("reconcile clean", data["reconcile_clean"]),
        ("API peak RSS (VmHWM, MiB)", data["api_peak_rss_mib"]),
        ("consumer restarts", ", ".join(f"{k} {v}" for k, v in data["consumer_restarts"].items()) or 0),
        ("new-id joins", ", ".join(f"{k} {v}" for k, v in data["new_id_joins"].items()) or 0),
        ("consumers alive at the end", data["consumers_alive"]),
        ("duration (s)", data["duration_s"]),
    ]
    rows += [(f"assignment changes {k}", v) for k, v in data["assignment_changes"].items()]
    rows += [
        (f"partitions nobody held at the end ({k})", v or "none")
        for k, v in data["partitions_unheld_at_end"].items()
    ]
    return rows
