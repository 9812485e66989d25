"""Who may call TradeData: API keys and JWT bearer tokens, scopes, the principal of each request.

Guard a router with `include_router(router, **scope_guard(settings, "trades:read"))`, or a route with
`Depends(require_scope("trades:admin"))`; read the caller with a `CurrentPrincipal` parameter.
"""

from tradedata.auth.guard import Authenticator, CurrentPrincipal, principal_of, require_scope, scope_guard
from tradedata.auth.keys import KeyRing, key_matches
from tradedata.auth.principal import ADMIN, ANONYMOUS, READ, WRITE, AuthRefused, Principal

__all__ = [
    "ADMIN",
    "ANONYMOUS",
    "READ",
    "WRITE",
    "AuthRefused",
    "Authenticator",
    "CurrentPrincipal",
    "KeyRing",
    "Principal",
    "key_matches",
    "principal_of",
    "require_scope",
    "scope_guard",
]
