"""API key specifications (TRADEDATA_API_KEYS, TRADEDATA_API_KEYS_FILE): key id, scopes, secret.

Pure parsing, shared by shared.settings (which secrets exist, for scrubbing and tools) and
tradedata.auth (who a presented key is and what it may do). Secrets never appear in an error message.

Formats (docs/security.md):
- entries `id:scope,scope:secret` separated by `;`, whitespace or newlines (a keys file: one per line,
  `#` starts a comment); the secret is what follows the last `:`;
- legacy: a comma-separated list of bare secrets (no `:` anywhere): ids `key1`, `key2`..., scopes
  trades:write and trades:read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WRITE = "trades:write"
READ = "trades:read"
ADMIN = "trades:admin"
SCOPES = frozenset({WRITE, READ, ADMIN})
LEGACY_SCOPES = frozenset({WRITE, READ})
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class CredentialsError(ValueError):
    """The key configuration cannot be used; the message names the entry (position or id), never a secret."""


@dataclass(frozen=True)
class ApiKeySpec:
    key_id: str
    scopes: frozenset[str]
    secret: str = field(repr=False)


def parse_api_keys(text: str) -> list[ApiKeySpec]:
    """Every key of a TRADEDATA_API_KEYS value or keys file; empty when none."""
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    body = "\n".join(lines).strip()
    if not body:
        return []
    if ":" not in body:
        secrets = [s.strip() for s in re.split(r"[,\s]+", body) if s.strip()]
        return [ApiKeySpec(f"key{n}", LEGACY_SCOPES, s) for n, s in enumerate(secrets, 1)]
    specs = [_entry(raw, n) for n, raw in enumerate(re.split(r"[;\s]+", body), 1) if raw]
    ids = [s.key_id for s in specs]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise CredentialsError(f"API key ids must be unique: {', '.join(duplicated)}")
    return specs


def _entry(raw: str, position: int) -> ApiKeySpec:
    if raw.count(":") < 2:
        raise CredentialsError(f"API key entry {position} is not `id:scope,scope:secret`")
    key_id, rest = raw.split(":", 1)
    scope_text, secret = rest.rsplit(":", 1)
    if not _ID.fullmatch(key_id):
        raise CredentialsError(f"API key entry {position}: the id must be 1-64 of A-Z a-z 0-9 . _ @ -")
    scopes = frozenset(s.strip() for s in scope_text.split(",") if s.strip())
    unknown = sorted(scopes - SCOPES)
    if unknown or not scopes:
        raise CredentialsError(
            f"API key {key_id!r}: unknown scope(s) {', '.join(unknown) or '(none)'}; "
            f"use {', '.join(sorted(SCOPES))}"
        )
    if len(secret) < 8:
        raise CredentialsError(f"API key {key_id!r}: the secret must have at least 8 characters")
    return ApiKeySpec(key_id, scopes, secret)
