"""GET /trades/{trade_id} and GET /trades: reads through the TradeReader port (shared.ports).

The store adapter is wired by the composition root; it raises shared.errors.StoreUnavailable when the
store cannot answer, which the problem handlers turn into 503 + Retry-After.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from shared.ports import StoredTrade, TradeFilter
from shared.schema import ID_MAX_LENGTH
from tradedata.auth import ADMIN, CurrentPrincipal, Principal
from tradedata.context import ReaderDep
from tradedata.problems import NotFound, problem_responses
from tradedata.responses import TradePage, TradeVersions, TradeView

router = APIRouter(tags=["read"])


def view(stored: StoredTrade, principal: Principal) -> TradeView:
    """The stored trade as returned; who submitted it only for trades:admin."""
    shown = stored.principal if principal.has(ADMIN) else None
    return TradeView.model_construct(**stored.trade.model_dump(), principal=shown)


@router.get(
    "/trades/{trade_id}",
    response_model=TradeView | TradeVersions,
    response_model_exclude_none=True,
    summary="The latest version of a trade (every version with ?all=true)",
    responses=problem_responses(404, 422, 503),
)
async def get_trade(
    reader: ReaderDep,
    principal: CurrentPrincipal,
    trade_id: Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)],
    all_versions: Annotated[
        bool, Query(alias="all", description="every stored version, highest first")
    ] = False,
) -> TradeView | TradeVersions:
    versions = await run_in_threadpool(reader.versions, trade_id)
    if not versions:
        raise NotFound(f"no trade with trade_id {trade_id!r} is stored")
    if all_versions:
        return TradeVersions(trade_id=trade_id, versions=[view(t, principal) for t in versions])
    return view(versions[0], principal)


@router.get(
    "/trades",
    response_model=TradePage,
    response_model_exclude_none=True,
    summary="Stored trades, filtered and paginated",
    responses=problem_responses(422, 503),
)
async def list_trades(
    reader: ReaderDep,
    principal: CurrentPrincipal,
    book_id: Annotated[str | None, Query(max_length=ID_MAX_LENGTH)] = None,
    counterparty_id: Annotated[str | None, Query(max_length=ID_MAX_LENGTH)] = None,
    expired: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TradePage:
    filters = TradeFilter(book_id=book_id, counterparty_id=counterparty_id, expired=expired)
    items, total = await run_in_threadpool(reader.find, filters, limit, offset)
    return TradePage(items=[view(t, principal) for t in items], total=total, limit=limit, offset=offset)
