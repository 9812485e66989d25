"""What every route needs, wired once in the lifespan: settings, the producer and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import Request

from shared.settings import Settings


@dataclass
class ApiContext:
    """Held on app.state.ctx; routes read it through `context(request)`."""

    settings: Settings
    clock: Callable[[], date]
    producer: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx
