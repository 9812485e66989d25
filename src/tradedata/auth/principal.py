"""Who is calling and what they may do; the refusal every auth failure raises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.credentials import ADMIN, READ, SCOPES, WRITE
from tradedata.problems import ApiProblem

__all__ = ["ADMIN", "ANONYMOUS", "READ", "SCOPES", "WRITE", "AuthRefused", "Principal"]

CHALLENGE = 'Bearer realm="tradedata"'


@dataclass(frozen=True)
class Principal:
    """A key id or token subject with its scopes; `id` None is the anonymous caller (auth off, open reads)."""

    id: str | None
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes


ANONYMOUS = Principal(None, SCOPES)  # authentication off: everything is allowed, records carry no principal


class AuthRefused(ApiProblem):
    """401 (no or unusable credentials) or 403 (not valid here, or a scope is missing); `reason` is the
    metrics label and the log word, never a secret."""

    reason: str

    def __init__(
        self, status: int, reason: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        if status == 401 and headers is None:
            headers = {"WWW-Authenticate": CHALLENGE}
        super().__init__(detail, status=status, headers=headers)
        self.reason = reason


def missing_scope(principal: Principal, scope: str) -> AuthRefused:
    challenge = f'{CHALLENGE}, error="insufficient_scope", scope="{scope}"'
    return AuthRefused(
        403,
        "missing_scope",
        f"principal {principal.id!r} lacks scope {scope}",
        headers={"WWW-Authenticate": challenge},
    )
