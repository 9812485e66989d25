"""API-key authentication for TradeData: FastAPI dependencies applied per router in app.py.

A client presents a key as `X-API-Key: <key>` or `Authorization: Bearer <key>`. Keys come from
TRADEDATA_API_KEYS (comma-separated); unset means authentication is off (local default). Every
configured key is compared, in constant time over SHA-256 digests, so neither the position of the
matching key nor its length leaks through timing. A missing key is 401 (with WWW-Authenticate),
a wrong one 403; neither the presented nor a configured key is ever logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from shared.settings import Settings
from tradedata.context import ApiContext, context
from tradedata.problems import PROBLEM_JSON, problem

log = logging.getLogger("tradedata.auth")

API_KEY_HEADER = "X-API-Key"
CHALLENGE = 'Bearer realm="tradedata"'  # X-API-Key works too; the problem detail says so
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# auto_error=False: the dependency decides (401 vs 403, problem+json); these also document the schemes.
_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="One of TRADEDATA_API_KEYS")
_bearer = HTTPBearer(auto_error=False, description="One of TRADEDATA_API_KEYS as a bearer token")

ApiKey = Annotated[str | None, Security(_api_key)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]

# OpenAPI documentation of problem+json bodies (RFC 9457), so schema checks (schemathesis) mean something.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
PROBLEM_DOC: dict[str, Any] = {
    "description": "Problem details (RFC 9457)",
    "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
}
RETRY_LATER_DOC: dict[str, Any] = {
    **PROBLEM_DOC,
    "description": "Unavailable (broker or store); retry the same request after Retry-After seconds",
    "headers": {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        **PROBLEM_DOC,
        "description": "No API key presented (auth is on)",
        "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    },
    403: {**PROBLEM_DOC, "description": "The API key is not valid"},
}


class AuthRefused(Exception):
    """The request lacks a valid key; `response` is its 401/403 problem answer."""

    def __init__(self, response: JSONResponse) -> None:
        self.response = response
        super().__init__(response.status_code)


async def auth_refused_handler(_: Request, exc: Exception) -> JSONResponse:
    """Exception handler that turns AuthRefused into its problem response."""
    assert isinstance(exc, AuthRefused)
    return exc.response


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def _key_digests(ctx: ApiContext) -> list[bytes]:
    """Digests of the configured keys, computed once per app; empty when auth is off."""
    digests: list[bytes] | None = ctx.extras.get("auth.digests")
    if digests is None:
        digests = ctx.extras["auth.digests"] = [_digest(k) for k in ctx.settings.api_keys()]
    return digests


def key_matches(presented: str, digests: list[bytes]) -> bool:
    """True when `presented` equals one configured key; compares against every key, never short-circuits."""
    candidate = _digest(presented)
    found = False
    for digest in digests:
        found |= hmac.compare_digest(candidate, digest)
    return found


def authenticate(request: Request, api_key: str | None, bearer: HTTPAuthorizationCredentials | None) -> None:
    """Raise AuthRefused unless auth is off or every presented credential is a configured key."""
    digests = _key_digests(context(request))
    if not digests:
        return
    presented = [c for c in (api_key, bearer.credentials if bearer else None) if c]
    client = request.client.host if request.client else "?"
    if not presented:
        log.info("refused %s %s from %s: no API key", request.method, request.url.path, client)
        detail = f"send an API key in header {API_KEY_HEADER} or as 'Authorization: Bearer <key>'"
        raise AuthRefused(problem(401, detail, headers={"WWW-Authenticate": CHALLENGE}))
    if not all([key_matches(c, digests) for c in presented]):  # every credential sent must be valid
        log.warning("refused %s %s from %s: invalid API key", request.method, request.url.path, client)
        raise AuthRefused(problem(403, "the API key is not valid for this service"))


async def require_writer(request: Request, api_key: ApiKey = None, bearer: Bearer = None) -> None:
    """Router dependency for write routes; safe methods (GET...) on the same router follow the read policy."""
    if request.method in SAFE_METHODS and not context(request).settings.tradedata_read_requires_auth:
        return
    authenticate(request, api_key, bearer)


async def require_reader(request: Request, api_key: ApiKey = None, bearer: Bearer = None) -> None:
    """Router dependency for read routes: enforced only when TRADEDATA_READ_REQUIRES_AUTH is true."""
    if context(request).settings.tradedata_read_requires_auth:
        authenticate(request, api_key, bearer)


def write_guard(settings: Settings) -> dict[str, Any]:
    """include_router kwargs for write routers: the dependency and its 401/403 docs, none when auth is off.

    Leaving them out when auth is off keeps the OpenAPI document true: it declares security only
    when the running service enforces it.
    """
    if not settings.api_keys():
        return {}
    return {"dependencies": [Depends(require_writer)], "responses": AUTH_RESPONSES}


def read_guard(settings: Settings) -> dict[str, Any]:
    """include_router kwargs for read routers: enforced when auth is on and TRADEDATA_READ_REQUIRES_AUTH."""
    if not (settings.api_keys() and settings.tradedata_read_requires_auth):
        return {}
    return {"dependencies": [Depends(require_reader)], "responses": AUTH_RESPONSES}
