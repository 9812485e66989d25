"""The stores as the console reads them: opened on first use (the API starts without them)."""

from __future__ import annotations

from typing import Any

from tradedata.context import ApiContext


def mongo(ctx: ApiContext) -> Any:
    reader = ctx.extras.get("console.mongo")
    if reader is None:
        from shared.stores import open_reader

        reader = ctx.extras["console.mongo"] = open_reader(ctx.settings, "mongo")
    return reader


def sql(ctx: ApiContext) -> Any:
    reader = ctx.extras.get("console.sql")
    if reader is None:
        from shared.stores import open_audit

        reader = ctx.extras["console.sql"] = open_audit(ctx.settings, "sql")
    return reader
