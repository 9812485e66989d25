"""The API's Prometheus metrics (served at GET /metrics, which needs trades:admin when auth is on)."""

from __future__ import annotations

from prometheus_client import Counter

REFUSED = Counter(
    "tradedata_requests_refused_total",
    "Requests TradeData refused, by reason: authentication (no_credentials, invalid_key, token_expired, "
    "missing_scope, ...) and input (malformed_body, too_large, media_type, invalid_trade, ...)",
    ["reason"],
)


def count_refusal(reason: str) -> None:
    REFUSED.labels(reason=reason).inc()
