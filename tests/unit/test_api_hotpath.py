"""The raw ASGI fast path of POST /trades (tradedata.hotpath) answers exactly as the FastAPI route does.

Each request is sent twice: as is (the fast path may answer it) and with an extra header the fast path
never handles (the route answers it). Status, headers that matter, body and what was published must be
the same; the fast path must really have answered the plain case.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from unit.test_api_http import LIVE, FakeProducer, make_client

KEY = "w-secret-0123456789"
KEYS = f"ingest:trades:write:{KEY}; dashboard:trades:read:r-secret-0123456789"
ROUTE_ONLY = {"x-route-only": "1"}  # any header the fast path does not know hands the request to FastAPI


def both(mode: str, body: bytes, headers: dict[str, str], **settings: Any) -> list[tuple[Any, ...]]:
    answers = []
    for extra in ({}, ROUTE_ONLY):
        producer = FakeProducer(mode)
        with make_client(producer, **settings) as http:
            r = http.post("/trades", content=body, headers={**headers, **extra})
        wanted = ("content-type", "location", "retry-after", "content-length")
        answers.append(
            (r.status_code, {h: r.headers.get(h) for h in wanted}, r.content, producer.sent, producer.headers)
        )
    return answers


JSON = {"content-type": "application/json"}
CASES = {
    "valid": ("ack", orjson.dumps(LIVE), JSON),
    "invalid trade": ("ack", orjson.dumps({**LIVE, "version": 0}), JSON),
    "not an object": ("ack", b"[1]", JSON),
    "bad json": ("ack", b"{", JSON),
    "other media type": ("ack", orjson.dumps(LIVE), {"content-type": "text/plain"}),
    "too large": ("ack", b" " * 70_000 + orjson.dumps(LIVE), JSON),
    "broker refuses": ("nack", orjson.dumps(LIVE), JSON),
    "queue full": ("queue_full", orjson.dumps(LIVE), JSON),
}


@pytest.mark.parametrize("case", CASES)
def test_fast_path_answers_as_the_route_does(case: str) -> None:
    mode, body, headers = CASES[case]
    fast, route = both(mode, body, headers)
    assert fast == route


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": KEY}, {"authorization": f"Bearer {KEY}"}, {"x-api-key": "wrong-key-0123456789"}],
    ids=["none", "api key", "bearer key", "unknown key"],
)
def test_fast_path_applies_the_same_authentication(headers: dict[str, str]) -> None:
    fast, route = both("ack", orjson.dumps(LIVE), {**JSON, **headers}, tradedata_api_keys=SecretStr(KEYS))
    assert fast == route


def test_the_plain_case_is_answered_without_fastapi(monkeypatch: pytest.MonkeyPatch) -> None:
    """The route is never reached for a plainly valid trade (the point of the fast path)."""
    from tradedata.routes import trades

    def route_reached(*_: object) -> bytes:
        raise AssertionError("the FastAPI route answered a plain POST")

    monkeypatch.setattr(trades, "accepted_body", route_reached)
    producer = FakeProducer()
    with make_client(producer) as http:
        r = http.post("/trades", content=orjson.dumps(LIVE), headers=JSON)
    assert r.status_code == 201
    assert len(producer.sent) == 1
