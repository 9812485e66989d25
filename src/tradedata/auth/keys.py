"""API keys: constant-time lookup of a presented secret among the configured keys.

Every configured key is compared, over SHA-256 digests with hmac.compare_digest and without an early
exit, so neither the position of the matching key nor its length leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from shared.credentials import ApiKeySpec


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def key_matches(presented: str, digests: Iterable[bytes]) -> bool:
    """True when `presented` equals one configured key; compares against every key, never short-circuits."""
    candidate = _digest(presented)
    found = False
    for digest in digests:
        found |= hmac.compare_digest(candidate, digest)
    return found


class KeyRing:
    """The configured keys, by digest; `match` answers which key (id and scopes) a secret is."""

    def __init__(self, specs: Iterable[ApiKeySpec]) -> None:
        self._keys = [(_digest(spec.secret), spec) for spec in specs]

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, presented: str) -> ApiKeySpec | None:
        candidate = _digest(presented)
        found: ApiKeySpec | None = None
        for digest, spec in self._keys:
            if hmac.compare_digest(candidate, digest):
                found = spec
        return found
