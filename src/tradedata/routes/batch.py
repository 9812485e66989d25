"""POST /trades/batch: up to TRADEDATA_BATCH_MAX_ITEMS trades (JSON array or NDJSON), one result per item.

The batch is answered 200 once every item has an outcome: ``accepted`` (the broker acknowledged it:
partition and offset), ``rejected`` (its field errors, exactly as POST /trades would list them) or
``failed`` (not acknowledged: retryable, never reported as accepted). Whole-request problems are
problem+json: 400 bad JSON, 413 too many items or bytes, 415 media type, 422 a JSON body that is not
an array.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from confluent_kafka import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from shared.errors import PublishUnavailable, TradeRuleViolation
from shared.rules import MaturedPolicy, date_errors, is_matured, validate_trade
from shared.schema import SAMPLE_TRADE, TradePayload
from tradedata.body import BodyError, is_json, media_type, parse_json, read_body
from tradedata.context import ApiContext, context
from tradedata.problems import PROBLEM_RESPONSE, field_errors_from_validation, problem

router = APIRouter(tags=["trades"])

NDJSON = "application/x-ndjson"
_FIELDS = TradePayload.model_fields
_REQUIRED = frozenset(n for n, f in TradePayload.model_fields.items() if f.is_required())
_PLAIN_ID = re.compile(r"[!-~](?:[ -~]{0,62}[!-~])?")
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_VERSION = 2_147_483_647


def _plain_date(value: object) -> date | None:
    if type(value) is not str or not _PLAIN_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _plain_id(value: object) -> bool:
    return type(value) is str and _PLAIN_ID.fullmatch(value) is not None


# A trade that passed every rule, as its Kafka record: (trade_id, key `trade_id:version:book_id`, JSON value).
Ready = tuple[str, bytes, bytes]
# The fast path writes the record value field by field; it is on only while the model has exactly these.
_FAST = tuple(_FIELDS) == (
    "trade_id", "counterparty_id", "book_id", "version", "maturity_date", "created_date", "expired"
)  # fmt: skip


def plain_record(data: object, today: date, policy: MaturedPolicy) -> Ready | None:
    """The record of a plainly valid trade (the common case, ~3x cheaper than the model), else None.

    Admits a strict subset of what TradePayload admits (printable ASCII ids without edge spaces, ASCII
    digits, no rule broken); anything else goes through the model, which gives the exact errors.
    """
    if type(data) is not dict or not data.keys() >= _REQUIRED or not data.keys() <= _FIELDS.keys():
        return None
    trade_id, counterparty_id, book_id = data["trade_id"], data["counterparty_id"], data["book_id"]
    version, expired = data["version"], data.get("expired", False)
    created, maturity = _plain_date(data["created_date"]), _plain_date(data["maturity_date"])
    if not (_plain_id(trade_id) and _plain_id(counterparty_id) and _plain_id(book_id)):
        return None
    if type(version) is not int or not 1 <= version <= _MAX_VERSION or type(expired) is not bool:
        return None
    if created is None or maturity is None or date_errors(created, maturity, today):
        return None
    matured = is_matured(maturity, today)
    if matured and policy is MaturedPolicy.REJECT:
        return None
    value = {
        "trade_id": trade_id,
        "counterparty_id": counterparty_id,
        "book_id": book_id,
        "version": version,
        "maturity_date": data["maturity_date"],
        "created_date": data["created_date"],
        "expired": matured,
    }
    return trade_id, f"{trade_id}:{version}:{book_id}".encode(), orjson.dumps(value)


def checked_record(data: object, ctx: ApiContext, today: date) -> Ready | list[dict[str, object]]:
    """The record of an accepted trade (POST /trades' rules: TradePayload + validate_trade), or its errors."""
    policy = ctx.settings.tradestore_matured_policy
    ready = plain_record(data, today, policy) if _FAST else None
    if ready is not None:
        return ready
    try:
        trade = validate_trade(TradePayload.model_validate(data), today, policy)
    except ValidationError as exc:
        return [e.as_dict() for e in field_errors_from_validation(exc)]
    except TradeRuleViolation as exc:
        return [e.as_dict() for e in exc.errors]
    return trade.trade_id, trade.kafka_key(), orjson.dumps(trade.to_message())


class AckLatch:
    """Counts unacknowledged records; wakes the event loop once, when the last one is acknowledged.

    One loop wake-up per batch instead of one asyncio.wrap_future per record.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending = 1  # a guard held until every record is queued
        self.done = asyncio.Event()

    def add(self) -> None:
        with self._lock:
            self._pending += 1

    def release(self, _: object = None) -> None:
        with self._lock:
            self._pending -= 1
            last = self._pending == 0
        if last:
            self._loop.call_soon_threadsafe(self.done.set)


@dataclass
class Outcome:
    """The result of one item, serialised into the response in index order."""

    status: str
    detail: dict[str, Any]


async def publish_all(ctx: ApiContext, records: Iterable[tuple[int, Ready]]) -> dict[int, Outcome]:
    """Queue every trade as it is checked, then wait (bounded) for all acknowledgements.

    Records stream from `records` into the producer (which copies each payload), and acknowledgements
    land in a dict from the delivery thread: no Future and no serialised value is held per record (a
    10,000-trade batch otherwise held ~75 MB at its peak). Never blocks the event loop.
    """
    cfg = ctx.settings
    latch = AckLatch(asyncio.get_running_loop())
    indexes: list[int] = []  # position of a record handed to the producer -> its item index
    acks: dict[int, tuple[KafkaError | None, Any]] = {}

    def delivered(position: int, err: KafkaError | None, msg: Any) -> None:
        acks[position] = (err, msg)
        latch.release()

    def counted() -> Iterator[Ready]:
        for index, ready in records:
            indexes.append(index)
            latch.add()
            yield ready

    stream = counted()
    try:
        queued = ctx.producer.send_many(cfg.trades_topic, stream, delivered)
        stopped = "producer queue is full; the broker is slow or unreachable"
    except PublishUnavailable as exc:
        queued, stopped = 0, str(exc)
    for _ in stream:  # the rest is still checked (rejected items keep their errors), not sent
        pass
    for _ in range(len(indexes) - queued):  # never queued: nothing to wait for
        latch.release()
    latch.release()  # the guard
    wait_s = cfg.kafka_publish_timeout_s + 1
    with contextlib.suppress(TimeoutError):  # what is still pending is reported as failed below
        await asyncio.wait_for(latch.done.wait(), wait_s)
    outcomes: dict[int, Outcome] = {}
    for position, index in enumerate(indexes):
        if position >= queued:
            outcomes[index] = Outcome("failed", {"reason": stopped, "retryable": True})
        else:
            outcomes[index] = delivery_outcome(acks.get(position), wait_s)
    return outcomes


def delivery_outcome(ack: tuple[KafkaError | None, Any] | None, waited_s: float) -> Outcome:
    """accepted with partition/offset, or failed (retryable) with the reason."""
    if ack is None:
        return Outcome(
            "failed", {"reason": f"broker did not acknowledge within {waited_s:g}s", "retryable": True}
        )
    err, msg = ack
    if err is not None:
        return Outcome("failed", {"reason": f"broker did not acknowledge: {err.str()}", "retryable": True})
    return Outcome("accepted", {"partition": msg.partition(), "offset": msg.offset()})


class BadLine:
    """An NDJSON line that is not JSON: reported as that item's error, the other lines still count."""

    def __init__(self, detail: str) -> None:
        self.detail = detail


def parse_items(raw: bytes, media: str, limit: int) -> list[object]:
    """The items of a JSON array (422 for another JSON value) or of NDJSON lines; 413 over `limit`."""
    if media == NDJSON:
        lines = [line for line in raw.split(b"\n") if line.strip()]
        items: list[object] = list(lines)
    else:
        data = parse_json(raw)
        if not isinstance(data, list):
            raise BodyError(422, "the body must be a JSON array of trades (or NDJSON lines, one trade each)")
        items = data
    if len(items) > limit:
        raise BodyError(413, f"the batch has {len(items)} items; the limit is {limit}")
    if media == NDJSON:
        items = [_load_line(line) for line in lines]
    return items


def _load_line(line: bytes) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return BadLine(f"line is not valid JSON: {exc}")


def item_result(index: int, checked: list[dict[str, object]] | BadLine) -> dict[str, Any]:
    """The result entry of an item refused before publishing."""
    if isinstance(checked, BadLine):
        errors: list[dict[str, object]] = [{"loc": [], "msg": checked.detail, "type": "json_invalid"}]
    else:
        errors = checked
    return {"index": index, "status": "rejected", "errors": errors}


BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Trade"}},
            "examples": {
                "two": {"summary": "Two trades", "value": [SAMPLE_TRADE, {**SAMPLE_TRADE, "version": 2}]}
            },
        },
        NDJSON: {"schema": {"type": "string", "description": "one trade JSON object per line"}},
    },
}


@router.post(
    "/trades/batch",
    status_code=200,
    summary="Validate many trades and publish the valid ones; one result per item",
    openapi_extra={"requestBody": BATCH_BODY},
    responses={
        200: {
            "description": "Processed: counts {accepted, rejected, failed} and a result per item, by index"
        },
        400: PROBLEM_RESPONSE,
        413: PROBLEM_RESPONSE,
        415: PROBLEM_RESPONSE,
        422: PROBLEM_RESPONSE,
    },
)
async def post_batch(request: Request) -> Response:
    ctx = context(request)
    cfg = ctx.settings
    media = media_type(request)
    try:
        if media != NDJSON and not is_json(media):
            raise BodyError(415, f"send a JSON array (application/json) or NDJSON ({NDJSON})")
        raw = await read_body(request, cfg.tradedata_batch_max_body_bytes)
        items = parse_items(raw, media, cfg.tradedata_batch_max_items)
    except BodyError as exc:
        return problem(exc.status, exc.detail)
    today = ctx.clock()
    results: list[dict[str, Any]] = [{} for _ in items]
    rejected = 0

    def checked() -> Iterator[tuple[int, Ready]]:
        nonlocal rejected
        for index, data in enumerate(items):
            outcome = data if isinstance(data, BadLine) else checked_record(data, ctx, today)
            if isinstance(outcome, tuple):
                yield index, outcome
            else:
                rejected += 1
                results[index] = item_result(index, outcome)

    outcomes = await publish_all(ctx, checked())
    counts = {"accepted": 0, "rejected": rejected, "failed": 0}
    for index, outcome in outcomes.items():
        counts[outcome.status] += 1
        results[index] = {"index": index, "status": outcome.status, **outcome.detail}
    body = {"topic": cfg.trades_topic, "counts": counts, "results": results}
    headers = {"Retry-After": "1"} if counts["failed"] else None
    return Response(orjson.dumps(body), status_code=200, media_type="application/json", headers=headers)
