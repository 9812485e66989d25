"""SqlReader: the read side of the SQL store (regression checks, reconciliation, expiry)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import sqlalchemy as sa

from kafkaconsumermssql.engine import make_engine
from kafkaconsumermssql.schema import TRADE_COLUMNS, trades_table
from shared.ports import StoreSummary
from shared.schema import TradePayload
from shared.settings import Settings
from shared.stores.records import prefix_upper_bound


class SqlReader:
    """Reads the `trades` table (dbo.trades on SQL Server)."""

    name = "sql"

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.table = trades_table(engine.dialect.name)

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlReader:
        return cls(make_engine(settings.sql_url_value))

    def _where(self, prefix: str) -> sa.ColumnElement[bool]:
        if not prefix:
            return sa.true()
        column = self.table.c.trade_id
        return sa.and_(column >= prefix, column < prefix_upper_bound(prefix))

    def summary(self, prefix: str = "") -> StoreSummary:
        t = self.table
        where = self._where(prefix)
        with self.engine.connect() as conn:
            total = conn.scalar(sa.select(sa.func.count()).select_from(t).where(where)) or 0
            expired = conn.scalar(sa.select(sa.func.count()).select_from(t).where(where, t.c.expired)) or 0
            per_book = conn.execute(
                sa.select(t.c.book_id, sa.func.count()).where(where).group_by(t.c.book_id)
            )
            latest = conn.execute(
                sa.select(t.c.trade_id, sa.func.max(t.c.version)).where(where).group_by(t.c.trade_id)
            )
            return StoreSummary(
                total=total,
                per_book={book: n for book, n in per_book},
                latest_version={trade_id: v for trade_id, v in latest},
                expired=expired,
            )

    def iter_trades(self, prefix: str = "") -> Iterator[TradePayload]:
        t = self.table
        query = (
            sa.select(*(t.c[name] for name in TRADE_COLUMNS))
            .where(self._where(prefix))
            .order_by(t.c.trade_id, t.c.version, t.c.book_id)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                yield TradePayload.model_validate({**row, "expired": bool(row["expired"])})

    def expire(self, today: date) -> int:
        """Set-based and idempotent: one UPDATE flags every live trade whose maturity date is before today."""
        t = self.table
        statement = (
            sa.update(t).where(t.c.maturity_date < today, t.c.expired == sa.false()).values(expired=True)
        )
        with self.engine.begin() as conn:
            return conn.execute(statement).rowcount

    def close(self) -> None:
        self.engine.dispose()
