"""Reading a request body as JSON: 415 for other media types, 413 over the limit, 400 for bad JSON."""

from __future__ import annotations

import orjson
from fastapi import Request

from tradedata.problems import BodyRejected


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything over `limit` bytes (declared or streamed) with 413."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyRejected(f"body is {declared} bytes; the limit is {limit} bytes", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyRejected(f"body exceeds the limit of {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> object:
    try:
        parsed: object = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyRejected(f"body is not valid JSON: {exc}", status=400) from None
    return parsed


async def read_json_body(request: Request, limit: int) -> object:
    """The parsed JSON body of a single-document request."""
    if not is_json(media_type(request)):
        raise BodyRejected("send the trade as JSON with header 'Content-Type: application/json'", status=415)
    return parse_json(await read_body(request, limit))
