"""GET /trades/{trade_id}/status?version=V&book_id=B: the stores' verdict on one record (tradedata.status)."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tradedata import status
from tradedata.context import context
from tradedata.problems import NotFound, problem_responses
from tradedata.status import Outcomes

router = APIRouter(tags=["trades"])


class SinkState(BaseModel):
    state: Literal["stored", "rejected", "pending"]
    reason: str | None = None
    detail: str | None = None


class TradeStatusBody(BaseModel):
    """The verdict of the stores on one record; `sinks` says what each sink decided (when known)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "trade_id": "T-1001",
                    "version": 1,
                    "book_id": "B-1",
                    "state": "rejected",
                    "reason": "lower_version",
                    "detail": "version 1 < stored 2 for T-1001",
                    "sinks": {"mongo": {"state": "rejected", "reason": "lower_version", "detail": "..."}},
                    "source": "outcomes",
                },
                {
                    "trade_id": "T-1001",
                    "version": 2,
                    "book_id": "B-1",
                    "state": "stored",
                    "reason": None,
                    "detail": None,
                    "sinks": {"mongo": {"state": "stored"}, "sql": {"state": "stored"}},
                    "source": "outcomes",
                },
                {
                    "trade_id": "T-1002",
                    "version": 1,
                    "book_id": "B-1",
                    "state": "pending",
                    "reason": None,
                    "detail": None,
                    "sinks": {},
                    "source": "trades-topic",
                },
            ]
        }
    )

    trade_id: str
    version: int
    book_id: str
    state: Literal["stored", "rejected", "pending"] = Field(
        description="stored: every sink stored it; rejected: a sink refused it; pending: not decided yet"
    )
    reason: str | None = Field(description="why it was rejected (the dead-letter reason, e.g. lower_version)")
    detail: str | None
    sinks: dict[str, SinkState]
    source: Literal["outcomes", "store", "dead-letters", "trades-topic"] = Field(
        description="where the answer comes from: the sinks' outcome events, the store, the dead-letter "
        "topic or the trades topic"
    )


@router.get(
    "/trades/{trade_id}/status",
    summary="What the stores did with one record: stored, rejected (with the reason) or pending",
    response_model=TradeStatusBody,
    responses=problem_responses(404, 422, 503),
)
async def trade_status(
    request: Request,
    trade_id: str,
    version: Annotated[int, Query(ge=1, le=2_147_483_647, description="the record's version")],
    book_id: Annotated[str, Query(min_length=1, description="the record's book_id")],
) -> Response:
    outcomes: Outcomes | None = request.app.state.outcomes
    key = (trade_id, version, book_id)
    verdict = None
    if outcomes is not None:
        outcomes.watcher.ensure_started()
        verdict = outcomes.watcher.verdict(key)
        if verdict is not None:  # final, or some sinks decided and the others not yet: pending
            return _answer(status.from_verdict(verdict), key)
    reader = context(request).reader
    found = await run_in_threadpool(status.from_store, reader, key) if reader is not None else None
    if found is None and outcomes is not None:
        found = await run_in_threadpool(outcomes.dead_letters, key)
    if found is None and outcomes is not None:
        found = await run_in_threadpool(outcomes.unprocessed, key)
    if found is None:
        raise NotFound(
            f"TradeStore never accepted a record {trade_id}:{version}:{book_id} (or no longer has it)"
        )
    return _answer(found, key)


def _answer(found: status.TradeStatus, key: status.Key) -> Response:
    return Response(orjson.dumps(found.body(key)), 200, media_type="application/json")
