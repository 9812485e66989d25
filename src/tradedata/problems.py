"""RFC 9457 problem+json: the one problem document (Problem), the API's domain errors, and their handlers.

Routes and dependencies raise; `install_problem_handlers` (called once by create_app) maps every error to
the same document shape, so a client parses one format whatever went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from shared.errors import FieldError, PublishUnavailable, StoreUnavailable
from tradedata.metrics import count_refusal

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Malformed request body",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Trade failed validation",
    503: "Service unavailable",
}


class FieldIssue(BaseModel):
    """One offending field: where (`loc`), what is wrong (`msg`), and a machine code (`type`)."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Problem details (RFC 9457); `errors` lists every offending field when there are any."""

    model_config = ConfigDict(extra="forbid")

    type: str = "about:blank"
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[FieldIssue] | None = None


class ApiProblem(Exception):
    """A refusal answered as problem+json; subclasses name the kind, the handler renders them all.

    `reason` (when set) is the label under which the refusal is counted in
    tradedata_requests_refused_total.
    """

    status = 400
    reason: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        errors: Iterable[Mapping[str, object]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status or type(self).status
        self.errors = list(errors)
        self.headers = dict(headers or {})


class BodyRejected(ApiProblem):
    """The request body cannot be read as asked: 400 bad JSON, 413 too large, 415 media type, 422 shape."""

    _REASONS = {400: "malformed_body", 413: "too_large", 415: "media_type", 422: "invalid_body"}

    def __init__(self, detail: str, *, status: int) -> None:
        super().__init__(detail, status=status)
        self.reason = self._REASONS.get(status, "bad_request")


class TradeRejected(ApiProblem):
    """The trade breaks the schema or a trade rule; `errors` lists every offending field."""

    status = 422
    reason = "invalid_trade"


class NotFound(ApiProblem):
    status = 404


def problem_response(
    status: int,
    detail: str,
    errors: Sequence[Mapping[str, object]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, object] = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status}
    body["detail"] = detail
    if errors:
        body["errors"] = list(errors)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def retry_later(retry_after_s: int = 1) -> dict[str, str]:
    """The headers of a 503: retry the same request (writes are idempotent by key)."""
    return {"Retry-After": str(retry_after_s)}


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


async def _api_problem(_: Request, exc: Exception) -> Response:
    if not isinstance(exc, ApiProblem):
        raise exc
    if exc.reason is not None:
        count_refusal(exc.reason)
    return problem_response(exc.status, exc.detail, exc.errors, exc.headers)


async def _unavailable(_: Request, exc: Exception) -> Response:
    retry = exc.retry_after_s if isinstance(exc, PublishUnavailable) else 1
    return problem_response(503, str(exc), headers=retry_later(retry))


async def _invalid_parameters(_: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    count_refusal("invalid_parameters")
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors() if "loc" in e]
    return problem_response(422, "the request has invalid parameters", errors)


async def _http_error(_: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        raise exc
    return problem_response(exc.status_code, str(exc.detail), headers=exc.headers or {})


def install_problem_handlers(app: FastAPI) -> None:
    """Register every error -> problem+json mapping, once per app."""
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(PublishUnavailable, _unavailable)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_parameters)
    app.add_exception_handler(HTTPException, _http_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these statuses, documented by the Problem model."""
    schema = {"$ref": f"#/components/schemas/{Problem.__name__}"}
    docs: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        doc: dict[str, Any] = {"model": Problem, "description": TITLES.get(status, "Error")}
        doc["content"] = {PROBLEM_JSON: {"schema": schema}}
        if status == 503:
            doc["description"] = "Unavailable (broker or store); retry after Retry-After seconds"
            doc["headers"] = {"Retry-After": {"required": True, "schema": {"type": "string"}}}
        if status == 401:
            doc["headers"] = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
        docs[status] = doc
    return docs
