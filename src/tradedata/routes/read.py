"""GET /trades/{trade_id} and GET /trades: reads served from the MongoDB store."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from shared.errors import StoreUnavailable
from shared.ports import TradeFilter
from shared.redact import redact_text
from shared.schema import ID_MAX_LENGTH
from tradedata.context import ApiContext, context
from tradedata.problems import PROBLEM_RESPONSE, problem, unavailable

router = APIRouter(tags=["read"])

_MONGO_DOWN = "the trade store (MongoDB) is unavailable"


def _reader(ctx: ApiContext) -> Any:
    """The MongoDB reader, created on first use (no I/O at start-up; the API runs without MongoDB)."""
    reader = ctx.extras.get("reader")
    if reader is None:
        from shared.stores import open_reader

        reader = ctx.extras["reader"] = open_reader(ctx.settings, "mongo")
    return reader


async def _read(ctx: ApiContext, call: Any, *args: Any) -> Any:
    try:
        return await run_in_threadpool(call, *args)
    except StoreUnavailable as exc:
        detail = redact_text(str(exc), ctx.settings.secret_values())
        raise _StoreDown(unavailable(f"{_MONGO_DOWN}: {detail[:200]}")) from None


class _StoreDown(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@router.get(
    "/trades/{trade_id}",
    summary="The latest version of a trade (every version with ?all=true)",
    responses={404: PROBLEM_RESPONSE, 503: PROBLEM_RESPONSE},
)
async def get_trade(
    request: Request,
    trade_id: Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)],
    all_versions: Annotated[
        bool, Query(alias="all", description="every stored version, highest first")
    ] = False,
) -> Response:
    ctx = context(request)
    try:
        versions = await _read(ctx, _reader(ctx).versions, trade_id)
    except _StoreDown as exc:
        return exc.response
    if not versions:
        return problem(404, f"no trade with trade_id {trade_id!r} is stored")
    if all_versions:
        return JSONResponse({"trade_id": trade_id, "versions": [t.trade.to_message() for t in versions]})
    return JSONResponse(versions[0].trade.to_message())


@router.get("/trades", summary="Stored trades, filtered and paginated", responses={503: PROBLEM_RESPONSE})
async def list_trades(
    request: Request,
    book_id: Annotated[str | None, Query(max_length=ID_MAX_LENGTH)] = None,
    counterparty_id: Annotated[str | None, Query(max_length=ID_MAX_LENGTH)] = None,
    expired: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    ctx = context(request)
    filters = TradeFilter(book_id=book_id, counterparty_id=counterparty_id, expired=expired)
    try:
        items, total = await _read(ctx, _reader(ctx).find, filters, limit, offset)
    except _StoreDown as exc:
        return exc.response
    return JSONResponse(
        {"items": [t.trade.to_message() for t in items], "total": total, "limit": limit, "offset": offset}
    )
