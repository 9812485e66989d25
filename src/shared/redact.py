"""Keep secrets out of logs: a connection URL is only ever printed through :func:`redact_url`."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:@/]*)(?::[^@/]*)?@")
_PARAM = re.compile(r"(?i)((?:password|pwd|secret|token)=)[^;&\s]*")


def redact_url(url: str) -> str:
    """`mongodb://user:pw@host` -> `mongodb://user:***@host`; also `PWD=...;` style parameters."""
    redacted = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["user"] else m[0], url)
    return _PARAM.sub(r"\1***", redacted)


def redact_text(text: str, secrets: list[str]) -> str:
    """Replace every known secret value inside free text (driver error messages echo URLs)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return redact_url(text)
