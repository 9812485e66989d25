"""The console's routes: /console (health), /console/trades, /console/dlq; thin over views and operations."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from shared.errors import PublishUnavailable
from shared.operations.dlq import (
    DlqFilter,
    find_dead_letter,
    parse_position,
    plan_redrive,
    read_dead_letters,
    redrive,
)
from shared.operations.history import last_reconcile
from shared.ports import TradeFilter
from tradedata.console import access, charts, stores, views
from tradedata.console.health import Sampler, sink_urls
from tradedata.context import ApiContext, context

router = APIRouter(prefix="/console", include_in_schema=False)
_env = Environment(loader=PackageLoader("tradedata.console", "templates"), autoescape=select_autoescape())
_env.filters["text"] = lambda data: "" if data is None else bytes(data).decode("utf-8", "replace")
_env.globals.update(sparkline=charts.sparkline, bars=charts.bars, lag_items=views.lag_items)
# Everything the pages load comes from this origin; no script runs on them.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
REDRIVE = "redrive"


def render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(**values), status_code=status, headers=_HEADERS)


def _sampler(ctx: ApiContext) -> Sampler:
    sampler: Sampler | None = ctx.extras.get("console.sampler")
    if sampler is None:
        sampler = ctx.extras["console.sampler"] = Sampler(sink_urls(ctx.settings))
    sampler.ensure_running()
    return sampler


@router.get("")
async def health_page(request: Request, _: access.Reader) -> HTMLResponse:
    ctx = context(request)
    sampler = _sampler(ctx)
    data = await run_in_threadpool(views.health, ctx.settings, ctx.producer, sampler)
    reconcile = last_reconcile(ctx.settings)
    return render(
        "health.html", page="health", h=data, sampler=sampler, settings=ctx.settings, reconcile=reconcile
    )


@router.get("/trades")
async def trades_page(request: Request, _: access.Reader) -> Response:
    ctx = context(request)
    q = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    if q.get("trade_id"):
        return RedirectResponse(request.url_for("trade_page", trade_id=q["trade_id"]), status_code=303)
    expired = q["expired"] == "true" if q.get("expired") in ("true", "false") else None
    filters = TradeFilter(book_id=q.get("book_id"), counterparty_id=q.get("counterparty_id"), expired=expired)
    items: list[Any] = []
    total, error = 0, None
    try:
        page, total = await run_in_threadpool(stores.mongo(ctx).find, filters, 100, 0)
        items = [stored.trade for stored in page]
    except Exception as exc:  # shown on the page
        error = views.unavailable(ctx.settings, exc)
    return render("trades.html", page="trades", q=q, items=items, total=total, error=error)


@router.get("/trades/{trade_id}")
async def trade_page(request: Request, trade_id: str, _: access.Reader) -> HTMLResponse:
    ctx = context(request)
    detail = await run_in_threadpool(
        views.trade_detail, ctx.settings, stores.mongo(ctx), stores.sql(ctx), trade_id
    )
    return render("trade.html", page="trades", trade_id=trade_id, rows=detail.rows, errors=detail.errors)


@router.get("/dlq")
async def dlq_page(request: Request, _: access.Reader) -> HTMLResponse:
    ctx = context(request)
    q = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    selection = DlqFilter(reason=q.get("reason"), sink=q.get("sink"), trade_id=q.get("trade_id"))
    letters, error = [], None
    try:
        letters = await run_in_threadpool(read_dead_letters, ctx.settings, selection)
    except Exception as exc:  # shown on the page
        error = views.unavailable(ctx.settings, exc)
    return render("dlq.html", page="dlq", q=q, letters=letters, error=error)


@router.get("/dlq/{position}")
async def letter_page(request: Request, position: str, _: access.Reader) -> HTMLResponse:
    ctx = context(request)
    try:
        normal = parse_position(position)
    except ValueError as exc:
        return render("message.html", 400, page="dlq", title="Not a position", text=str(exc))
    letter = await run_in_threadpool(find_dead_letter, ctx.settings, normal)
    if letter is None:
        return render("message.html", 404, page="dlq", title="Not found", text=f"no dead letter at {normal}")
    return render("letter.html", page="dlq", letter=letter)


async def _form(request: Request) -> dict[str, list[str]]:
    return parse_qs((await request.body()).decode("utf-8", "replace"))


async def _selected(ctx: ApiContext, form: dict[str, list[str]]) -> list[Any]:
    try:
        positions = frozenset(parse_position(p) for p in form.get("position", []))
    except ValueError:
        return []
    if not positions:
        return []
    return await run_in_threadpool(read_dead_letters, ctx.settings, DlqFilter(positions=positions))


@router.post("/dlq/redrive")
async def redrive_confirm(request: Request, caller: access.Admin) -> HTMLResponse:
    """Step 1: show exactly what would be sent and issue the token that confirms it."""
    ctx = context(request)
    letters = await _selected(ctx, await _form(request))
    if not letters:
        return render(
            "message.html", 400, page="dlq", title="Nothing selected", text="select dead letters first"
        )
    plans = plan_redrive(letters, ctx.settings.trades_topic)
    selection = [p.origin.position for p in plans]
    token = access.issue_token(access.secret_of(request), REDRIVE, caller, selection)
    return render("confirm.html", page="dlq", plans=plans, token=token, topic=ctx.settings.trades_topic)


@router.post("/dlq/redrive/confirm")
async def redrive_do(request: Request, caller: access.Admin) -> HTMLResponse:
    """Step 2: redrive, only with the token step 1 issued for this caller and this selection."""
    ctx = context(request)
    form = await _form(request)
    letters = await _selected(ctx, form)
    selection = [f"{letter.partition}:{letter.offset}" for letter in letters]
    token = (form.get("token") or [""])[0]
    if not letters or not access.token_valid(access.secret_of(request), token, REDRIVE, caller, selection):
        return render(
            "message.html",
            403,
            page="dlq",
            title="Not confirmed",
            text="the confirmation is missing or expired; start again",
        )
    plans = plan_redrive(letters, ctx.settings.trades_topic)
    try:
        if ctx.producer is None:
            raise PublishUnavailable("the producer is not started")
        done = await run_in_threadpool(redrive, plans, ctx.producer, ctx.settings.kafka_publish_timeout_s * 2)
    except PublishUnavailable as exc:
        return render("message.html", 503, page="dlq", title="Not redriven", text=str(exc))
    return render("redriven.html", page="dlq", done=done, topic=ctx.settings.trades_topic)
