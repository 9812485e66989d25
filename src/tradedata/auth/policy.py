"""Whether the API may start with its authentication configuration (checked where the API starts)."""

from __future__ import annotations

from shared.credentials import CredentialsError
from shared.settings import PLACEHOLDER_SECRETS, Settings


def auth_problem(settings: Settings) -> str | None:
    """Why the API must not start with this auth configuration, or None.

    Checked where the API starts (tradedata.app.create_app), not for every service: the consumers
    serve no API and need no keys.
    """
    try:
        keys = settings.api_key_specs()
    except CredentialsError as exc:
        return str(exc)
    jwt = settings.jwt_enabled
    if jwt and not (settings.tradedata_jwt_issuer and settings.tradedata_jwt_audience):
        return "JWT needs TRADEDATA_JWT_ISSUER and TRADEDATA_JWT_AUDIENCE next to the JWKS"
    if settings.tradestore_env != "production":
        return None
    if not keys and not jwt and not settings.tradedata_allow_anonymous:
        return (
            "no API keys and no JWT issuer in production: set TRADEDATA_API_KEYS (or a JWKS), or "
            "TRADEDATA_ALLOW_ANONYMOUS=true to run the API without authentication on purpose"
        )
    if any(k.secret in PLACEHOLDER_SECRETS for k in keys):
        return "TRADEDATA_API_KEYS holds a placeholder key; set real keys in production"
    if settings.tradedata_open_reads and not settings.tradedata_open_reads_confirmed:
        return (
            "TRADEDATA_OPEN_READS=true lets anyone read every trade; production needs "
            "TRADEDATA_OPEN_READS_CONFIRMED=true as well"
        )
    return None
