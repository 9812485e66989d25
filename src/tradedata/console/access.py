"""Who may see and do what in the console, and the confirmation tokens that guard its actions.

Read pages need trades:read, actions trades:admin (the API's own authentication: X-API-Key or
Authorization: Bearer, tradedata.auth). Actions are two POSTs: the first shows what would happen and
issues a token (HMAC over the selection, the caller and an expiry); the second does it only with that
token. A page on another origin cannot read the token (same-origin policy), so it cannot forge the
second POST even when authentication is off (the local default): the console's CSRF protection.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request

from shared.settings import Settings
from tradedata.auth import ADMIN, READ, Principal, require_scope
from tradedata.context import context

TOKEN_TTL_S = 300


async def _reader(principal: Annotated[Principal, Depends(require_scope(READ))]) -> str:
    """The caller of a read page: a principal with trades:read whenever authentication is on."""
    return principal.id or "anonymous"


async def _admin(principal: Annotated[Principal, Depends(require_scope(ADMIN))]) -> str:
    """The caller of an action: a principal with trades:admin whenever authentication is on."""
    return principal.id or "anonymous"


Reader = Annotated[str, Depends(_reader)]
Admin = Annotated[str, Depends(_admin)]


def console_secret(settings: Settings) -> bytes:
    """TRADEDATA_CONSOLE_SECRET, else a random key kept in TRADESTORE_HOME (every worker reads the same)."""
    if settings.tradedata_console_secret is not None:
        return settings.tradedata_console_secret.get_secret_value().encode()
    path = settings.tradestore_home / "console.secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as out:
        key = secrets.token_bytes(32)
        out.write(key)
    return key


def secret_of(request: Request) -> bytes:
    ctx = context(request)
    key: bytes | None = ctx.extras.get("console.secret")
    if key is None:
        key = ctx.extras["console.secret"] = console_secret(ctx.settings)
    return key


def _mac(secret: bytes, action: str, caller: str, selection: Sequence[str], expiry: int) -> str:
    message = "\n".join(
        [action, hashlib.sha256(caller.encode()).hexdigest(), str(expiry), *sorted(selection)]
    )
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def issue_token(
    secret: bytes, action: str, caller: str, selection: Sequence[str], now: float | None = None
) -> str:
    """A token valid for TOKEN_TTL_S that confirms `action` on exactly `selection` by `caller`."""
    expiry = int((now if now is not None else time.time()) + TOKEN_TTL_S)
    return f"{expiry}.{_mac(secret, action, caller, selection, expiry)}"


def token_valid(
    secret: bytes, token: str, action: str, caller: str, selection: Sequence[str], now: float | None = None
) -> bool:
    expiry_text, _, mac = token.partition(".")
    if not expiry_text.isdigit() or int(expiry_text) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac, _mac(secret, action, caller, selection, int(expiry_text)))
