"""JWT bearer tokens (PyJWT) checked against the issuer's keys: a JWKS URL (cached) or a local JWKS file.

Accepted only when: the header's alg is one of TRADEDATA_JWT_ALGORITHMS (asymmetric; `none` and HS* are
refused before any key is looked at, so a token signed with a public key as an HMAC secret never
verifies), its kid names a key of the issuer, the signature verifies, and iss, aud, exp (required) and
nbf (when present) hold within the bounded leeway. Scopes come from `scope` (space-separated) or `scp`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet

from shared.credentials import SCOPES
from shared.errors import PublishUnavailable
from shared.settings import Settings
from tradedata.auth.principal import CHALLENGE, AuthRefused, Principal

SYMMETRIC = frozenset({"none", "HS256", "HS384", "HS512"})
MIN_REFETCH_S = 30.0  # an unknown kid refetches the JWKS at most this often (no amplification)


class KeySource(Protocol):
    def key(self, kid: str) -> PyJWK | None: ...


class FileKeys:
    """A JWKS read once from a file (offline setups, tests)."""

    def __init__(self, path: Path) -> None:
        self._keys = {k.key_id: k for k in PyJWKSet.from_json(path.read_text(encoding="utf-8")).keys}

    def key(self, kid: str) -> PyJWK | None:
        return self._keys.get(kid)


class UrlKeys:
    """The issuer's JWKS URL, cached for TRADEDATA_JWKS_CACHE_S; an unknown kid triggers a bounded refetch."""

    def __init__(self, url: str, cache_s: int) -> None:
        self._client = PyJWKClient(url, cache_jwk_set=True, lifespan=cache_s, timeout=5)
        self._lock = threading.Lock()
        self._last_refetch = 0.0

    def key(self, kid: str) -> PyJWK | None:
        try:
            found = self._find(self._client.get_jwk_set(), kid)
            if found is None:
                with self._lock:
                    if time.monotonic() - self._last_refetch < MIN_REFETCH_S:
                        return None
                    self._last_refetch = time.monotonic()
                found = self._find(self._client.get_jwk_set(refresh=True), kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise PublishUnavailable(f"the token issuer's keys cannot be fetched: {exc}") from None
        return found

    @staticmethod
    def _find(keys: PyJWKSet, kid: str) -> PyJWK | None:
        return next((k for k in keys.keys if k.key_id == kid), None)


class JwtVerifier:
    def __init__(self, keys: KeySource, issuer: str, audience: str, algorithms: list[str], leeway_s: int):
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = [a for a in algorithms if a not in SYMMETRIC]
        self._leeway_s = leeway_s

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier | None:
        if not settings.jwt_enabled:
            return None
        keys: KeySource
        if settings.tradedata_jwks_file is not None:
            keys = FileKeys(settings.tradedata_jwks_file)
        else:
            keys = UrlKeys(str(settings.tradedata_jwks_url), settings.tradedata_jwks_cache_s)
        algorithms = [a.strip() for a in settings.tradedata_jwt_algorithms.split(",") if a.strip()]
        issuer, audience = settings.tradedata_jwt_issuer or "", settings.tradedata_jwt_audience or ""
        return cls(keys, issuer, audience, algorithms, settings.tradedata_jwt_leeway_s)

    def verify(self, token: str) -> Principal:
        """The token's subject and scopes; raises AuthRefused (401) naming why it is not accepted."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("malformed_token", "the bearer token is not a JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self._algorithms:
            raise _refused("token_algorithm", f"tokens signed with {alg!r} are not accepted")
        key = self._keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise _refused("unknown_kid", "the token's key id (kid) is not one of the issuer's keys")
        if key.algorithm_name != alg:
            raise _refused("token_algorithm", f"key {kid!r} does not sign with {alg}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise _refused("token_expired", "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _refused("token_not_yet_valid", "the token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise _refused("token_audience", "the token is not issued for this audience") from None
        except jwt.InvalidIssuerError:
            raise _refused("token_issuer", "the token is not from the trusted issuer") from None
        except jwt.PyJWTError:
            raise _refused("invalid_token", "the token's signature or claims are not valid") from None
        return Principal(str(claims["sub"]), _scopes(claims))


def _scopes(claims: dict[str, object]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        return frozenset(raw.split()) & SCOPES
    if isinstance(raw, list):
        return frozenset(s for s in raw if isinstance(s, str)) & SCOPES
    return frozenset()


def _refused(reason: str, detail: str) -> AuthRefused:
    """401 with RFC 6750's invalid_token: the client should get a new token."""
    challenge = f'{CHALLENGE}, error="invalid_token"'
    return AuthRefused(401, reason, detail, headers={"WWW-Authenticate": challenge})
