"""MongoStore without a server: the client it opens (timeouts from MONGO_TIMEOUT_MS), what each operation
says when the server is unreachable (the action an operator reads in the log, never the password), and
what needs no server at all (an empty batch)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from shared.errors import StoreRejected, StoreUnavailable
from shared.ports import StoredTrade, TradeFilter, WriteResult
from shared.schema import SAMPLE_TRADE, TradePayload
from shared.settings import Settings
from shared.stores import mongo
from shared.stores.mongo import MongoStore

UNREACHABLE = "mongodb://app:hunter2@127.0.0.1:1/"  # nothing listens on port 1: refused at once
SHOWN = "mongodb://app:***@127.0.0.1:1/"
RECORD = StoredTrade(TradePayload.model_validate(SAMPLE_TRADE), 0, 1, datetime(2026, 11, 24, tzinfo=UTC))


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The options of every MongoClient the store opens (real clients: they connect lazily)."""
    options: list[dict[str, Any]] = []
    clients: list[MongoClient[Any]] = []

    def client(url: str, **kwargs: Any) -> MongoClient[Any]:
        options.append(kwargs)
        clients.append(MongoClient(url, **kwargs))
        return clients[-1]

    monkeypatch.setattr(mongo, "MongoClient", client)
    try:
        yield options
    finally:
        for each in clients:
            each.close()


def client_options(timeout_ms: int) -> dict[str, Any]:
    return {
        "serverSelectionTimeoutMS": timeout_ms,
        "connectTimeoutMS": timeout_ms,
        "socketTimeoutMS": max(10_000, 5 * timeout_ms),
        "tz_aware": True,
    }


def test_the_client_waits_the_store_timeout_to_select_and_connect_and_five_times_it_on_a_socket(
    opened: list[dict[str, Any]],
) -> None:
    MongoStore(UNREACHABLE, "db", "trades", timeout_ms=700).close()
    assert opened == []  # no client before the first operation
    for timeout_ms, socket_ms in ((700, 10_000), (3000, 15_000)):
        store = MongoStore(UNREACHABLE, "db", "trades", timeout_ms=timeout_ms)
        store._coll()
        store.close()
        assert opened[-1] == client_options(timeout_ms)
        assert opened[-1]["socketTimeoutMS"] == socket_ms  # at least 10 s: a long write is not cut short


def test_the_default_timeout_is_two_seconds_and_from_settings_uses_mongo_timeout_ms(
    opened: list[dict[str, Any]],
) -> None:
    MongoStore(UNREACHABLE, "db", "trades")._coll()
    assert opened[-1] == client_options(2000)
    settings = Settings(mongo_url=UNREACHABLE, mongo_db="d", mongo_collection="c", mongo_timeout_ms=2500)
    store = MongoStore.from_settings(settings)
    assert (store.database, store.collection_name) == ("d", "c")
    store._coll()
    assert opened[-1] == client_options(2500)


def test_a_closed_store_opens_a_new_client_on_its_next_operation(opened: list[dict[str, Any]]) -> None:
    store = MongoStore(UNREACHABLE, "db", "trades", timeout_ms=50)
    with pytest.raises(StoreUnavailable):
        store.ping()
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(StoreUnavailable):
        store.ping()
    assert len(opened) == 2


def test_an_empty_batch_is_written_without_a_server() -> None:
    store = MongoStore(UNREACHABLE, "db", "trades", timeout_ms=50)
    assert store.write([]) == WriteResult(written=0)
    assert store.max_versions([]) == {}
    assert store.stored_origins(set()) == {}


OPERATIONS: list[tuple[str, Callable[[MongoStore], object]]] = [
    ("creating indexes", lambda s: s.setup()),
    ("ping", lambda s: s.ping()),
    ("reading max versions", lambda s: s.max_versions(["T-1"])),
    ("reading stored origins", lambda s: s.stored_origins({("T-1", 1, "B-1")})),
    ("writing trades", lambda s: s.write([RECORD])),
    ("reading a trade", lambda s: s.versions("T-1")),
    ("listing trades", lambda s: s.find(TradeFilter(), 10, 0)),
    ("summarising", lambda s: s.summary()),
    ("reading trades", lambda s: list(s.iter_trades())),
    ("expiring trades", lambda s: s.expire(date(2027, 1, 1))),
]


@pytest.mark.parametrize(("action", "operation"), OPERATIONS, ids=[a for a, _ in OPERATIONS])
def test_an_unreachable_server_is_store_unavailable_naming_the_operation(
    action: str, operation: Callable[[MongoStore], object]
) -> None:
    store = MongoStore(UNREACHABLE, "db", "trades", timeout_ms=50)
    try:
        with pytest.raises(StoreUnavailable) as err:
            operation(store)
    finally:
        store.close()
    assert str(err.value).startswith(f"MongoDB at {SHOWN} {action}: ")
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize(
    ("url", "echoed"),
    [
        ("mongodb://app:hunter2@127.0.0.1:1/", "hunter2"),
        ("mongodb://app:hunter2@127.0.0.1:1,127.0.0.1:2/db?authSource=admin", "hunter2"),
        ("mongodb://app:p%40ss%3Aword@127.0.0.1:1/", "p@ss:word"),  # percent-decoded by the driver
        ("mongodb://app:p%40ss%3Aword@127.0.0.1:1/", "p%40ss%3Aword"),
    ],
)
def test_a_password_the_driver_echoes_alone_is_not_in_the_message(url: str, echoed: str) -> None:
    """Found in session 2: only the whole URL was redacted, a password quoted on its own was not."""
    store = MongoStore(url, "db", "trades")
    with pytest.raises(StoreRejected) as err, store._translate("writing trades"):
        raise OperationFailure(f"Authentication failed for app with password {echoed}", code=18)
    assert echoed not in str(err.value)
    assert "Authentication failed for app with password ***" in str(err.value)


def test_a_url_without_a_password_leaves_the_driver_message_whole() -> None:
    store = MongoStore("mongodb://127.0.0.1:1/", "db", "trades")
    with pytest.raises(StoreRejected) as err, store._translate("writing trades"):
        raise OperationFailure("Document failed validation", code=121)
    assert str(err.value) == "MongoDB at mongodb://127.0.0.1:1/ writing trades: Document failed validation"
