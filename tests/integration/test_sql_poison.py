"""Poison records on SQLite and PostgreSQL: a trigger refuses one trade_id as a CHECK would.

The store refuses the whole statement with StoreRejected (never StoreUnavailable, which would retry
forever) and writes nothing of it; the runtime's isolation (shared.consumer.isolation) splits the
batch in halves, isolates the culprit and stores every other record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from shared.consumer.isolation import write_isolating
from shared.errors import StoreRejected, StoreUnavailable
from shared.ports import Key, StoredTrade, WriteResult
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores.sql import SqlStore

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CULPRIT = "POISON"

TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER refuse_poison BEFORE INSERT ON trades WHEN NEW.trade_id = '{CULPRIT}' "
        f"BEGIN SELECT RAISE(ABORT, 'trade {CULPRIT} refused by a rule'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.trade_id = '{CULPRIT}' THEN RAISE EXCEPTION 'trade % refused by a rule', NEW.trade_id; "
        "END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON trades "
        "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ],
}


@pytest.fixture
def store(local_sql_url: str) -> Iterator[SqlStore]:
    store = SqlStore.from_settings(Settings(sql_url=local_sql_url))  # type: ignore[arg-type]
    store.setup()
    with store.engine.begin() as conn:
        for ddl in TRIGGERS[store.dialect]:
            conn.execute(sa.text(ddl))
    try:
        yield store
    finally:
        store.close()


def batch(n: int, culprit_at: int) -> list[StoredTrade]:
    ids = [CULPRIT if i == culprit_at else f"OK-{i:05d}" for i in range(n)]
    return [
        StoredTrade(TradePayload.model_validate({**SAMPLE_TRADE, "trade_id": t}), 0, i, NOW)
        for i, t in enumerate(ids)
    ]


def test_a_refused_record_fails_its_statement_deterministically_and_writes_nothing(store: SqlStore) -> None:
    records = batch(5, culprit_at=2)
    for _ in range(2):  # the same refusal each time: not a "store down" to retry
        with pytest.raises(StoreRejected, match="refused by a rule"):
            store.write(records)
    assert store.count() == 0


@pytest.mark.parametrize("n", [1, 2, 7, 64, 300])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_splitting_isolates_the_culprit_and_stores_every_other_record(
    store: SqlStore, n: int, where: str
) -> None:
    at = {"first": 0, "middle": n // 2, "last": n - 1}[where]
    calls: list[int] = []
    real_write = store.write

    def counted_write(records: Sequence[StoredTrade]) -> WriteResult:
        calls.append(len(records))
        return real_write(records)

    store.write = counted_write  # type: ignore[method-assign]  # count the store calls the isolation makes
    result = write_isolating(store, batch(n, at))
    culprit: Key = (CULPRIT, 1, "B-1")
    assert result.refused.keys() == {culprit}
    assert "refused by a rule" in result.refused[culprit]
    assert result.written == n - 1
    assert store.count() == n - 1
    assert len(calls) <= 2 * max(1, n).bit_length() + 1  # ~2 log2(n) writes, never one per record


def test_a_held_lock_past_the_lock_timeout_is_transient(local_sql_url: str) -> None:
    settings = Settings(sql_url=local_sql_url, sql_lock_timeout_s=0.3)  # type: ignore[arg-type]
    store = SqlStore.from_settings(settings)
    store.setup()
    blocker = sa.create_engine(local_sql_url)
    try:
        with blocker.connect() as conn:
            if store.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN EXCLUSIVE")
            else:
                conn.execute(sa.text("LOCK TABLE trades IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(StoreUnavailable, match=r"(?i)lock|locked"):
                store.write(batch(3, culprit_at=-1))
            conn.rollback()
        assert store.write(batch(3, culprit_at=-1)).written == 3
    finally:
        blocker.dispose()
        store.close()
