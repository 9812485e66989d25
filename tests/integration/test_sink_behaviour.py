"""The sink behaviour suite (integration/sink_behaviour.py) against every store that claims it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from pymongo import MongoClient

from fixtures.fake_store import FakeStore
from integration.sink_behaviour import Poison, SinkBehaviour
from shared.settings import Settings
from shared.stores import Store, open_store


class TestFakeStoreRefusingRecords(SinkBehaviour):
    """The in-memory fake, naming refused records itself (as MongoDB's bulk write does)."""

    @pytest.fixture
    def store(self) -> FakeStore:
        return FakeStore()

    @pytest.fixture
    def poison(self) -> Poison:
        def refuse(store: Any, trade_id: str) -> None:
            store.poison.add(trade_id)

        return refuse


class TestFakeStoreRefusingBatches(TestFakeStoreRefusingRecords):
    """The fake refusing a whole batch (as a SQL statement does): the runtime bisects it."""

    @pytest.fixture
    def store(self) -> FakeStore:
        return FakeStore(batch_refusal=True)


class TestMongoStore(SinkBehaviour):
    """MongoStore on nx-27017 (or MONGO_URL)."""

    @pytest.fixture
    def store(self, mongo_url: str, mongo_db_name: str) -> Iterator[Store]:
        settings = Settings(mongo_url=SecretStr(mongo_url), mongo_db=mongo_db_name)
        store = open_store(settings, "mongo")
        store.setup()
        try:
            yield store
        finally:
            store.close()
            client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
            client.drop_database(mongo_db_name)
            client.close()

    @pytest.fixture
    def poison(self, mongo_url: str, mongo_db_name: str) -> Iterator[Poison]:
        """A unique index on counterparty_id and a stored blocker: the culprit's document is refused
        with a duplicate key (11000) on both nx-27017 and MongoDB."""
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)

        def refuse(_store: Store, trade_id: str) -> None:
            coll = client[mongo_db_name]["trades"]
            coll.create_index("counterparty_id", unique=True)
            blocker = {
                "trade_id": "~blocker",
                "version": 0,
                "book_id": "~",
                "counterparty_id": f"CP-{trade_id}",
            }
            coll.insert_one({"_id": "blocker", **blocker})

        try:
            yield refuse
        finally:
            client.close()


SQL_POISON_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON trades WHEN NEW.trade_id = '{id}' "
        "BEGIN SELECT RAISE(ABORT, 'trade {id} refused by a rule'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.trade_id = '{id}' THEN RAISE EXCEPTION 'trade % refused by a rule', NEW.trade_id; "
        "END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON trades "
        "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ],
}


class TestSqlStore(SinkBehaviour):
    """SqlStore on SQLite and PostgreSQL (started here); a trigger refuses the culprit, as a CHECK would."""

    @pytest.fixture
    def store(self, local_sql_url: str) -> Iterator[Store]:
        store = open_store(Settings(sql_url=SecretStr(local_sql_url)), "sql")
        store.setup()
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def poison(self) -> Poison:
        def refuse(store: Any, trade_id: str) -> None:
            with store.engine.begin() as conn:
                for ddl in SQL_POISON_TRIGGERS[store.dialect]:
                    conn.execute(sa.text(ddl.replace("{id}", trade_id)))

        return refuse
