"""POST /trades with `Prefer: wait` and GET /trades/{trade_id}/status, in-process: a fake producer, a fake
store and an injected Outcomes (a watcher fed by the test, lookups that answer from plain dicts)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient

from shared.outcomes import LOWER_VERSION_TYPE, Outcome, State
from shared.ports import StoredTrade, TradeFilter
from shared.schema import TradePayload
from shared.settings import Settings
from tradedata.app import create_app
from tradedata.outcomes import OutcomeWatcher
from tradedata.status import Key, Outcomes, TradeStatus
from tradestore_tools.faults.fuzz import AckingProducer

TODAY = date(2026, 11, 24)
TRADE = {
    "trade_id": "T-1",
    "counterparty_id": "CP-1",
    "book_id": "B-1",
    "version": 1,
    "maturity_date": "2030-01-15",
    "created_date": "2025-09-28",
}


class Store:
    """The API's store reader holding version 2 of T-1."""

    name = "mongo"

    def versions(self, trade_id: str) -> list[StoredTrade]:
        if trade_id != "T-1":
            return []
        trade = TradePayload.model_validate({**TRADE, "version": 2})
        return [StoredTrade(trade, 0, 3, datetime(2026, 1, 1, tzinfo=UTC))]

    def find(self, filters: TradeFilter, limit: int, offset: int) -> tuple[list[StoredTrade], int]:
        return [], 0

    def ping(self) -> None: ...

    def close(self) -> None: ...


class StartlessWatcher(OutcomeWatcher):
    """The real watcher's cache and waiters, without its Kafka thread."""

    def ensure_started(self) -> None:
        self.started = True


def _app(
    dead: dict[Key, TradeStatus] | None = None, unprocessed: dict[Key, TradeStatus] | None = None
) -> tuple[TestClient, StartlessWatcher]:
    settings = Settings(tradestore_env="test", tradedata_prefer_wait_max_s=2)
    watcher = StartlessWatcher(settings)
    outcomes = Outcomes(watcher, (dead or {}).get, (unprocessed or {}).get)
    app = create_app(
        settings, producer=AckingProducer(), clock=lambda: TODAY, reader=Store(), outcomes=outcomes
    )
    return TestClient(app), watcher


def _outcome(sink: str, state: State, version: int = 1, **extra: Any) -> Outcome:
    return Outcome("T-1", version, "B-1", state, sink, 0, 0, **extra)  # AckingProducer: partition 0, offset 0


def test_without_prefer_nothing_waits_and_nothing_changes() -> None:
    client, watcher = _app()
    with client:
        response = client.post("/trades", json=TRADE)
    assert response.status_code == 201
    assert "preference-applied" not in response.headers
    assert not hasattr(watcher, "started")


def test_prefer_wait_answers_201_once_every_sink_stored_the_record() -> None:
    client, watcher = _app()
    with client:
        feeder = threading.Timer(
            0.2, lambda: [watcher.record(_outcome(s, State.STORED)) for s in ("mongo", "sql")]
        )
        feeder.start()
        response = client.post("/trades", json=TRADE, headers={"Prefer": "wait=2"})
        feeder.join()
    assert response.status_code == 201
    assert response.headers["preference-applied"] == "wait=2"
    assert response.json()["offset"] == 0


def test_prefer_wait_answers_409_problem_when_a_sink_rejected_it_and_caps_n() -> None:
    client, watcher = _app()
    watcher.record(_outcome("sql", State.REJECTED, reason="lower_version", detail="1 < 2", max_version=2))
    with client:
        response = client.post("/trades", json=TRADE, headers={"Prefer": "wait=600"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["preference-applied"] == "wait=2"  # capped by TRADEDATA_PREFER_WAIT_MAX_S
    assert response.json()["type"] == LOWER_VERSION_TYPE
    assert "version 2 is already stored" in response.json()["detail"]


def test_prefer_wait_answers_202_with_the_status_location_without_a_verdict() -> None:
    client, _ = _app()
    with client:
        response = client.post("/trades", json=TRADE, headers={"Prefer": "wait=0"})
    assert response.status_code == 202
    assert response.headers["location"] == "/trades/T-1/status?version=1&book_id=B-1"
    assert response.json()["state"] == "pending"


def test_status_comes_from_the_outcomes_the_store_the_dead_letters_then_the_topic() -> None:
    rejected = TradeStatus(
        State.REJECTED, "lower_version", "1 < 2", {"sql": {"state": "rejected"}}, "dead-letters"
    )
    pending = TradeStatus(State.PENDING, source="trades-topic")
    client, watcher = _app(dead={("T-1", 1, "B-1"): rejected}, unprocessed={("T-1", 5, "B-1"): pending})
    watcher.record(_outcome("mongo", State.STORED, version=4))
    watcher.record(_outcome("mongo", State.STORED, version=2))  # the store holds it, the SQL sink not yet
    with client:
        answers = {
            v: client.get("/trades/T-1/status", params={"version": v, "book_id": "B-1"}) for v in range(1, 6)
        }
    assert answers[1].json()["state"] == "rejected"
    assert answers[1].json()["source"] == "dead-letters"
    assert (answers[2].json()["state"], answers[2].json()["source"]) == ("pending", "outcomes")
    assert answers[3].status_code == 404
    restarted, _ = _app()  # no verdict known: the store says it holds version 2
    with restarted:
        stored = restarted.get("/trades/T-1/status", params={"version": 2, "book_id": "B-1"}).json()
    assert (stored["state"], stored["source"], stored["sinks"]) == (
        "stored",
        "store",
        {"mongo": {"state": "stored", "reason": None, "detail": None}},
    )
    assert answers[3].headers["content-type"] == "application/problem+json"
    assert (answers[4].json()["state"], answers[4].json()["sinks"]) == (
        "pending",
        {"mongo": {"state": "stored", "reason": None, "detail": None}},
    )
    assert (answers[5].json()["state"], answers[5].json()["source"]) == ("pending", "trades-topic")


def test_status_is_documented_with_examples_and_prefer_in_openapi() -> None:
    client, _ = _app()
    spec = client.get("/openapi.json").json()
    status = spec["paths"]["/trades/{trade_id}/status"]["get"]
    assert {"200", "404"} <= set(status["responses"])
    schema = spec["components"]["schemas"]["TradeStatusBody"]
    assert {e["state"] for e in schema["examples"]} == {"stored", "rejected", "pending"}
    post = spec["paths"]["/trades"]["post"]
    assert {"201", "202", "409"} <= set(post["responses"])
    assert any(p["name"] == "Prefer" for p in post["parameters"])
    assert "201 Created means the Kafka broker holds the trade" in post["description"]
