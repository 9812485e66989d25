"""MongoStore's one translation of driver errors (no server needed): transient codes and error labels are
StoreUnavailable (retry), other command failures StoreRejected (dead-letter), never with the password."""

from __future__ import annotations

import pytest
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from shared.errors import StoreRejected, StoreUnavailable
from shared.stores.mongo import MongoStore
from shared.stores.mongo_writes import TRANSIENT_CODES

URL = "mongodb://tradestore:hunter2@127.0.0.1:1/"


def translated(exc: PyMongoError) -> Exception:
    store = MongoStore(URL, "db", "trades")
    with pytest.raises((StoreUnavailable, StoreRejected)) as info, store._translate("writing trades"):
        raise exc
    assert "hunter2" not in str(info.value)
    assert "writing trades" in str(info.value)
    return info.value


@pytest.mark.parametrize("code", sorted(TRANSIENT_CODES))
def test_a_transient_server_code_is_store_unavailable(code: int) -> None:
    assert type(translated(OperationFailure("busy", code=code))) is StoreUnavailable


@pytest.mark.parametrize("label", ["RetryableWriteError", "TransientTransactionError"])
def test_a_retryable_error_label_is_store_unavailable(label: str) -> None:
    error = OperationFailure("try again", code=2, details={"errorLabels": [label]})
    assert type(translated(error)) is StoreUnavailable


def test_another_command_failure_is_a_deterministic_refusal() -> None:
    error = OperationFailure("Document failed validation", code=121, details={"errorLabels": ["Other"]})
    refused = translated(error)
    assert type(refused) is StoreRejected
    assert "Document failed validation" in str(refused)


def test_a_lost_connection_or_any_other_driver_error_is_store_unavailable() -> None:
    assert type(translated(ConnectionFailure("connection refused"))) is StoreUnavailable
    assert type(translated(PyMongoError("odd"))) is StoreUnavailable
