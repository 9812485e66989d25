"""POST /trades without FastAPI's request machinery: a raw ASGI layer in front of the app.

It answers only the common case itself: `POST /trades`, `Content-Type: application/json`, no `Prefer`
header, a body within the limit that is a plainly valid trade (tradedata.service's `accept`) from a
caller the authenticator admits with trades:write. Everything else -- any refusal, any other route,
media type or header it does not handle -- goes to FastAPI with the body replayed, so problem bodies,
refusal counting, logging and the OpenAPI description stay those of the route (tradedata.routes.trades).
The answer is the route's, byte for byte: 201 only after the broker's acknowledgement, the same body
and Location; a publish failure is the same 503 problem.

Measured with wrk (2 threads, 16 connections; `tradestore bench`): FastAPI's routing, dependency
solving and response classes were most of the single POST's CPU (docs/performance.md).
"""

from __future__ import annotations

from urllib.parse import quote

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradedata.auth import WRITE, AuthRefused
from tradedata.auth.guard import API_KEY_HEADER
from tradedata.context import ApiContext
from tradedata.plainbatch import plain_record
from tradedata.problems import PROBLEM_JSON, problem_response, retry_later
from tradedata.routes.trades import accepted_body
from tradedata.service import Ingest, Record

_KEY = API_KEY_HEADER.lower().encode()
_HANDLED = frozenset({b"content-type", b"content-length", b"host", b"user-agent", b"accept",
                      b"connection", b"accept-encoding", b"authorization", _KEY})  # fmt: skip


class _Replay:
    """`receive` for the app after the body was read here: the body once, then the real channel."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self._body: bytes | None = body
        self._receive = receive

    async def __call__(self) -> Message:
        if self._body is None:
            return await self._receive()
        body, self._body = self._body, None
        return {"type": "http.request", "body": body, "more_body": False}


class HotPath:
    """The raw ASGI fast path for plainly valid single POSTs; wraps the FastAPI app."""

    def __init__(self, app: ASGIApp, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = self._plain_post(scope)
        if headers is None:
            return await self.app(scope, receive, send)
        body = await self._read(receive, self.ctx.settings.tradedata_max_body_bytes)
        if body is None:  # over the limit: the route refuses it (413)
            return await self.app(scope, _Replay(b"", receive), send)
        if not await self._answer(headers, body, send):
            await self.app(scope, _Replay(body, receive), send)

    @staticmethod
    def _plain_post(scope: Scope) -> dict[bytes, bytes] | None:
        """The request headers when this is a POST /trades the fast path may answer, else None."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/trades":
            return None
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name not in _HANDLED or name in headers:
                return None  # Prefer, Expect, repeated headers, ...: the route decides
            headers[name] = value
        return headers if headers.get(b"content-type") == b"application/json" else None

    @staticmethod
    async def _read(receive: Receive, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _answer(self, headers: dict[bytes, bytes], body: bytes, send: Send) -> bool:
        """Publish and answer a plainly valid trade; False hands the request to the route."""
        ingest, auth = self.ctx.single or self.ctx.ingest, self.ctx.auth
        if ingest is None:
            return False
        principal_id: str | None = None
        if auth.enabled:
            bearer = headers.get(b"authorization", b"").decode("latin-1")
            if bearer and not bearer.startswith("Bearer "):
                return False
            api_key = headers.get(_KEY, b"").decode("latin-1") or None
            try:
                principal = await auth.principal(api_key, bearer[7:].strip() or None, WRITE)
            except AuthRefused:
                return False  # refused by the route: the same problem, log line and count
            principal_id = principal.id
        checked = _checked(ingest, body)
        if checked is None:
            return False
        outcome = (await ingest.publish([(0, checked)], principal_id))[0]
        if outcome.status != "accepted":
            problem = problem_response(503, outcome.reason, headers=retry_later())
            await _respond(send, problem.status_code, bytes(problem.body), PROBLEM_JSON, problem.headers.raw)
            return True
        location = f"/trades/{quote(checked.trade_id, safe='')}".encode("latin-1")
        value = accepted_body(checked, ingest.topic, outcome.partition, outcome.offset)
        await _respond(send, 201, value, "application/json", [(b"location", location)])
        return True


def _checked(ingest: Ingest, body: bytes) -> Record | None:
    """The record of an acceptable trade: a plain one in one msgspec call (tradedata.plainbatch), else
    orjson + `accept` (the per-item fast path or the model); None when refused (the route answers)."""
    today = ingest.clock()
    record = plain_record(body, today, ingest.policy)
    if record is not None:
        return record
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    checked = ingest.accept(data, today) if type(data) is dict else None
    return checked if isinstance(checked, Record) else None


async def _respond(
    send: Send, status: int, body: bytes, media: str, extra: list[tuple[bytes, bytes]]
) -> None:
    own = (b"content-length", b"content-type")
    headers = [(n, v) for n, v in extra if n not in own]
    headers += [(b"content-length", str(len(body)).encode()), (b"content-type", media.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
