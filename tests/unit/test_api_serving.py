"""`tradestore api`: how the API is served (tradestore.commands.api), without starting a server."""

from __future__ import annotations

import argparse
import gc
from typing import Any

import pytest
from fastapi import FastAPI

from tradestore.commands import api


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADESTORE_ENV", "test")
    # configure_logging replaces the root logger's handlers and level: not in the test process
    monkeypatch.setattr(api, "configure_logging", lambda *_: None)


@pytest.mark.usefixtures("env")
def test_the_app_factory_freezes_the_startup_objects_out_of_the_collector() -> None:
    """Full collections during a batch would otherwise scan every module, route and schema again."""
    gc.unfreeze()
    try:
        app = api.app_factory()
        assert isinstance(app, FastAPI)
        assert gc.get_freeze_count() > 10_000  # the app, its routes and models, every module imported
    finally:
        gc.unfreeze()


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(("workers", "factory"), [(1, False), (3, True)])
def test_the_server_runs_uvloop_httptools_without_access_log(
    monkeypatch: pytest.MonkeyPatch, workers: int, factory: bool
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: served.update(app=app, **kw))
    args = argparse.Namespace(host="127.0.0.2", port=8123, workers=workers)
    try:
        assert api.run(args) == 0
    finally:
        gc.unfreeze()
    assert (served["loop"], served["http"], served["access_log"]) == ("uvloop", "httptools", False)
    assert (served["host"], served["port"], served["workers"], served["factory"]) == (
        "127.0.0.2", 8123, workers, factory
    )  # fmt: skip
    if factory:
        assert served["app"] == "tradestore.commands.api:app_factory"
    else:
        assert isinstance(served["app"], FastAPI)
