"""The last reconcile result, kept as JSON in TRADESTORE_HOME so the console can show it.

`tradestore reconcile` (or any job comparing the stores) calls `record_reconcile`; the console reads
`last_reconcile`. A missing or unreadable file means "no reconcile recorded".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.settings import Settings

FILE_NAME = "reconcile-last.json"


def record_reconcile(settings: Settings, summary: Mapping[str, Any], now: datetime | None = None) -> None:
    """Write `summary` (counts and `clean`) with its time, atomically (rename over the previous one)."""
    home = settings.tradestore_home
    home.mkdir(parents=True, exist_ok=True)
    body = {"at": (now or datetime.now(UTC)).isoformat(timespec="seconds"), **summary}
    tmp = home / f".{FILE_NAME}.{os.getpid()}"
    tmp.write_text(json.dumps(body, default=str))
    tmp.replace(home / FILE_NAME)


def last_reconcile(settings: Settings) -> dict[str, Any] | None:
    try:
        found = json.loads((settings.tradestore_home / FILE_NAME).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
