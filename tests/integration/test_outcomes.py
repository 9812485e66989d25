"""Trade outcomes on the real pipeline (broker, nx-27017, PostgreSQL, API, both consumers):
`Prefer: wait=N` answers with the stores' verdict, GET .../status tells what happened to a record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fixtures.consumers import make_trade
from fixtures.pipeline import Pipeline, poll
from tradedata.app import create_app
from tradestore.httpclient import ApiClient

LOWER_VERSION_TYPE = "https://tradestore.dev/problems/lower-version"


def _client(pipeline: Pipeline, prefer: str | None) -> ApiClient:
    keys = pipeline.settings.api_keys()
    headers = {"X-API-Key": keys[0]} if keys else {}
    if prefer is not None:
        headers["Prefer"] = prefer
    client = ApiClient(pipeline.api_url, headers)
    pipeline.clients.append(client)
    return client


@pytest.fixture
def waiting(pipeline: Pipeline) -> ApiClient:
    return _client(pipeline, "wait=5")


def _post(client: ApiClient, trade: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    status, headers, body = client.post("/trades", trade)
    return status, headers, json.loads(body)


def _get(client: ApiClient, path: str) -> tuple[int, Any]:
    status, _, body = client.get(path)
    return status, json.loads(body)


def test_a_lower_version_after_a_higher_one_gets_409_naming_the_stored_version(
    pipeline: Pipeline, waiting: ApiClient, prefix: str
) -> None:
    trade_id = f"{prefix}T-1"
    status, headers, body = _post(waiting, make_trade(trade_id, version=2))
    assert status == 201, body
    assert headers["preference-applied"] == "wait=5"
    assert set(body) == {"trade_id", "counterparty_id", "book_id", "version", "maturity_date", "created_date",
                         "expired", "topic", "partition", "offset"}  # fmt: skip
    assert pipeline.in_mongo((trade_id, 2, "B-1"))
    assert pipeline.in_sql((trade_id, 2, "B-1"))

    status, headers, problem = _post(waiting, make_trade(trade_id, version=1))
    assert status == 409, problem
    assert headers["content-type"] == "application/problem+json"
    assert headers["preference-applied"] == "wait=5"
    assert problem["type"] == LOWER_VERSION_TYPE
    assert problem["stored_version"] == 2
    assert "version 2 is already stored" in problem["detail"]
    assert problem["reason"] == "lower_version"

    status, verdict = _get(waiting, problem["status_url"])
    assert status == 200, verdict
    assert (verdict["state"], verdict["reason"]) == ("rejected", "lower_version")
    assert "stored 2" in verdict["detail"]
    status, stored = _get(waiting, f"/trades/{trade_id}/status?version=2&book_id=B-1")
    assert (status, stored["state"]) == (200, "stored"), stored


def test_requests_without_prefer_answer_as_before(pipeline: Pipeline, prefix: str) -> None:
    plain = _client(pipeline, None)
    trade = make_trade(f"{prefix}T-2")
    status, headers, body = _post(plain, trade)
    assert status == 201, body
    assert "preference-applied" not in headers
    assert set(body) == {*trade, "topic", "partition", "offset"}
    assert headers["location"] == f"/trades/{trade['trade_id']}"
    # the lower version is still 201 without the preference: 201 means the broker holds it
    pipeline.wait_stored(prefix, 1)
    status, _, body = _post(plain, make_trade(f"{prefix}T-2", version=2))
    assert status == 201, body
    status, _, body = _post(plain, make_trade(f"{prefix}T-2", version=1, counterparty_id="CP-2"))
    assert status == 201, body


def test_status_of_a_record_never_accepted_is_404(pipeline: Pipeline, prefix: str) -> None:
    status, problem = _get(_client(pipeline, None), f"/trades/{prefix}nothing/status?version=1&book_id=B-1")
    assert status == 404, problem
    assert "never" in problem["detail"] or "no record" in problem["detail"]


@pytest.fixture
def sql_consumer_stopped(local_pipeline: Pipeline) -> Iterator[None]:
    consumer = local_pipeline.consumer("kafkaconsumermssql")
    consumer.stop()
    try:
        yield
    finally:
        if not consumer.alive():
            consumer.start()


@pytest.mark.local_only
def test_no_verdict_within_the_wait_gives_202_with_the_status_location(
    local_pipeline: Pipeline, sql_consumer_stopped: None, prefix: str
) -> None:
    client = _client(local_pipeline, "wait=1")
    trade = make_trade(f"{prefix}T-3")
    status, headers, body = _post(client, trade)
    assert status == 202, body
    assert headers["preference-applied"] == "wait=1"
    location = headers["location"]
    assert location == f"/trades/{trade['trade_id']}/status?version=1&book_id=B-1"
    assert body["state"] == "pending"
    assert isinstance(body["offset"], int)

    status, verdict = _get(client, location)
    assert (status, verdict["state"]) == (200, "pending"), verdict
    assert verdict["sinks"].get("mongo", {}).get("state") in (None, "stored")

    local_pipeline.consumer("kafkaconsumermssql").start()
    poll(lambda: _get(client, location)[1], lambda v: v["state"] == "stored", timeout_s=60)


def test_status_survives_an_api_restart(pipeline: Pipeline, waiting: ApiClient, prefix: str) -> None:
    trade_id = f"{prefix}T-4"
    assert _post(waiting, make_trade(trade_id, version=2))[0] == 201
    assert _post(waiting, make_trade(trade_id, version=1))[0] == 409
    # A new API process: its outcome reader starts now and has seen none of these verdicts.
    fresh = pipeline.settings.model_copy(update={"tradedata_outcome_lookback_s": 0.0})
    keys = fresh.api_keys()
    with TestClient(create_app(fresh), headers={"X-API-Key": keys[0]} if keys else {}) as restarted:
        rejected = restarted.get(f"/trades/{trade_id}/status", params={"version": 1, "book_id": "B-1"}).json()
        stored = restarted.get(f"/trades/{trade_id}/status", params={"version": 2, "book_id": "B-1"}).json()
    assert (rejected["state"], rejected["reason"], rejected["source"]) == (
        "rejected",
        "lower_version",
        "dead-letters",
    )
    assert "stored 2" in rejected["detail"]
    assert set(rejected["sinks"]) == {"mongo", "sql"}
    assert (stored["state"], stored["source"]) == ("stored", "store")
