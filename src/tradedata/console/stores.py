"""The stores as the console reads them: opened on first use (the API starts without them)."""

from __future__ import annotations

from typing import Any

from tradedata.context import ApiContext


def mongo(ctx: ApiContext) -> Any:
    reader = ctx.extras.get("console.mongo")
    if reader is None:
        from kafkaconsumer.reader import MongoReader

        reader = ctx.extras["console.mongo"] = MongoReader.from_settings(ctx.settings)
    return reader


def sql(ctx: ApiContext) -> Any:
    reader = ctx.extras.get("console.sql")
    if reader is None:
        from shared.stores.sql import SqlStore

        reader = ctx.extras["console.sql"] = SqlStore.from_settings(ctx.settings)
    return reader
