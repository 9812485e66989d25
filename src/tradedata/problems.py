"""RFC 9457 problem+json responses: every refusal says what is wrong and, per field, how to fix it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError

from shared.errors import FieldError

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Malformed request body",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Trade failed validation",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    errors: Iterable[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
    type_: str = "about:blank",
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": _TITLES.get(status, "Error"), "status": status}
    body["detail"] = detail
    listed = list(errors)
    if listed:
        body["errors"] = listed
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


PROBLEM_RESPONSE: dict[str, Any] = {
    "description": "Problem details (RFC 9457)",
    "content": {PROBLEM_JSON: {}},
}


def unavailable(detail: str, retry_after_s: int = 1) -> JSONResponse:
    """503 with Retry-After: the client should retry the same request (writes are idempotent by key)."""
    return problem(503, detail, headers={"Retry-After": str(retry_after_s)})


def field_errors_from_validation(exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[FieldError]:
    """Pydantic's errors as FieldErrors with messages a person can act on."""
    result: list[FieldError] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = (*prefix, *err["loc"])
        kind = err["type"]
        msg = err["msg"]
        if kind == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif kind == "missing":
            msg = "field required"
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        result.append(FieldError(loc, msg, kind))
    return result
