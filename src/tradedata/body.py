"""Reading a request body as JSON: 415 for other media types, 413 over the limit, 400 for bad JSON."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request


class BodyError(Exception):
    """The request body cannot be read; carries the HTTP status and the problem detail."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything over `limit` bytes (declared or streamed) with 413."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, f"body is {declared} bytes; the limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"body is not valid JSON: {exc}") from None


async def read_json_body(request: Request, limit: int) -> Any:
    """The parsed JSON body of a single-document request."""
    if not is_json(media_type(request)):
        raise BodyError(415, "send the trade as JSON with header 'Content-Type: application/json'")
    return parse_json(await read_body(request, limit))
