"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tradedata.auth import RETRY_LATER_DOC
from tradedata.context import context
from tradedata.problems import unavailable

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process is up")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: the broker is reachable",
    responses={
        200: {
            "description": "Ready: broker metadata could be fetched",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["status"],
                        "properties": {"status": {"const": "ready"}},
                    }
                }
            },
        },
        503: RETRY_LATER_DOC,
    },
)
async def ready(request: Request) -> Response:
    ctx = context(request)
    reachable = await run_in_threadpool(ctx.producer.broker_reachable)
    if not reachable:
        return unavailable(f"broker {ctx.settings.kafka_bootstrap_servers} is unreachable")
    return JSONResponse({"status": "ready"})
