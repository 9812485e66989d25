"""The API's response bodies as models, so the OpenAPI description comes from code.

Hot routes serialise with orjson themselves (FastAPI skips validation of a returned Response); these
models document what they write, and the fuzz test checks every answer against them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.schema import TradePayload
from tradedata.problems import FieldIssue


class AcceptedTrade(TradePayload):
    """The trade as published (expired computed) and where the broker stored it."""

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class BatchCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    failed: int = Field(ge=0)


class ItemResult(BaseModel):
    """One item of a batch, by index: accepted (partition, offset), rejected (errors), failed (reason)."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0)
    status: Literal["accepted", "rejected", "failed"]
    partition: int | None = Field(default=None, ge=0)
    offset: int | None = Field(default=None, ge=0)
    errors: list[FieldIssue] | None = None
    reason: str | None = None
    retryable: bool | None = None


class BatchResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str
    counts: BatchCounts
    results: list[ItemResult]


class TradeView(TradePayload):
    """A stored trade; `principal` (who submitted it) is shown to principals with trades:admin only."""

    principal: str | None = None


class TradeVersions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trade_id: str
    versions: list[TradeView]


class TradePage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[TradeView]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
