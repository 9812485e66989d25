"""Authentication as FastAPI dependencies: `require_scope(scope)` resolves the caller's Principal.

A client presents an API key as `X-API-Key: <key>` or `Authorization: Bearer <key>`, or a JWT as
`Authorization: Bearer <jwt>`. When authentication is on, every guarded route needs a principal with
the route's scope: none presented is 401, an unknown key or a bad token 401/403, a missing scope 403
naming it. Logs name key ids and token subjects only, never a presented or configured secret.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from shared.settings import Settings
from tradedata.auth.keys import KeyRing
from tradedata.auth.principal import ANONYMOUS, READ, AuthRefused, Principal, missing_scope
from tradedata.auth.tokens import JwtVerifier
from tradedata.context import context
from tradedata.problems import problem_responses

log = logging.getLogger("tradedata.auth")

API_KEY_HEADER = "X-API-Key"

# auto_error=False: the dependency decides (401 vs 403, problem+json); these also document the schemes.
_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key (TRADEDATA_API_KEYS)")
_bearer = HTTPBearer(auto_error=False, description="A JWT from the issuer, or an API key")
ApiKey = Annotated[str | None, Security(_api_key)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


class Authenticator:
    """Resolves presented credentials to a Principal; built once per app from the settings."""

    def __init__(self, keys: KeyRing, tokens: JwtVerifier | None, open_reads: bool = False) -> None:
        self.keys = keys
        self.tokens = tokens
        self.open_reads = open_reads

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        keys = KeyRing(settings.api_key_specs())
        return cls(keys, JwtVerifier.from_settings(settings), settings.tradedata_open_reads)

    @property
    def enabled(self) -> bool:
        return bool(len(self.keys)) or self.tokens is not None

    async def principal(self, api_key: str | None, bearer: str | None, scope: str) -> Principal:
        """The caller holding `scope`; raises AuthRefused otherwise."""
        if not self.enabled:
            return ANONYMOUS
        if not api_key and not bearer:
            if self.open_reads and scope == READ:
                return Principal(None, frozenset({READ}))
            detail = f"send an API key in header {API_KEY_HEADER} or 'Authorization: Bearer <key or token>'"
            raise AuthRefused(401, "no_credentials", detail)
        found = [await self._resolve(c, c is bearer) for c in (api_key, bearer) if c]
        if len({p.id for p in found}) > 1:
            raise AuthRefused(403, "conflicting_credentials", "the credentials name different principals")
        if not found[0].has(scope):
            raise missing_scope(found[0], scope)
        return found[0]

    async def _resolve(self, credential: str, is_bearer: bool) -> Principal:
        if is_bearer and self.tokens is not None and credential.count(".") == 2:
            return await run_in_threadpool(self.tokens.verify, credential)  # may fetch the JWKS
        spec = self.keys.match(credential)
        if spec is None:
            raise AuthRefused(403, "invalid_key", "the API key is not valid for this service")
        return Principal(spec.key_id, spec.scopes)


@cache
def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency for any route or router: the caller's Principal, which must hold `scope`."""

    async def dependency(request: Request, api_key: ApiKey = None, bearer: Bearer = None) -> Principal:
        auth = context(request).auth
        try:
            principal = await auth.principal(api_key, bearer.credentials if bearer else None, scope)
        except AuthRefused as exc:  # counted by the problem handler, under exc.reason
            client = request.client.host if request.client else "?"
            log.info("refused %s %s from %s: %s", request.method, request.url.path, client, _words(exc))
            raise
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


def _words(exc: AuthRefused) -> str:
    return {"invalid_key": "invalid API key", "no_credentials": "no credentials"}.get(exc.reason, exc.reason)


def scope_guard(settings: Settings, scope: str) -> dict[str, Any]:
    """include_router kwargs guarding a router with `scope`, with its 401/403 docs; none when auth is off.

    Leaving them out when auth is off keeps the OpenAPI document true: it declares security only when
    the running service enforces it.
    """
    if not (settings.api_key_specs() or settings.jwt_enabled):
        return {}
    return {"dependencies": [Depends(require_scope(scope))], "responses": problem_responses(401, 403)}


def principal_of(request: Request) -> Principal:
    """The caller the router's guard resolved (ANONYMOUS when authentication is off).

    A plain call rather than a dependency on the write routes: each dependency FastAPI solves costs the
    hot path measurable CPU (profiled with cProfile: dependency solving was half the route's time).
    """
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    return principal


async def _current_principal(request: Request) -> Principal:
    return principal_of(request)


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]
