"""Liveness and readiness probes (always open) and the API's metrics (trades:admin when auth is on)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from shared.errors import PublishUnavailable
from tradedata.context import ProducerDep, SettingsDep
from tradedata.problems import problem_responses
from tradedata.responses import Health, Ready

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process is up")
async def health() -> Health:
    return Health()


@router.get(
    "/ready",
    summary="Readiness: the broker is reachable",
    responses=problem_responses(503),
)
async def ready(settings: SettingsDep, producer: ProducerDep) -> Ready:
    if not await run_in_threadpool(producer.broker_reachable):
        raise PublishUnavailable(f"broker {settings.kafka_bootstrap_servers} is unreachable")
    return Ready()


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics of this API process (refused requests by reason, ...)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
