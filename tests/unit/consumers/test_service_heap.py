"""The consumer service settles the heap before it runs: survivors frozen out of later collections, the young
generation collected every 10,000 allocations (shared.consumer.service.settle_heap)."""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from shared.consumer import service
from shared.settings import Settings


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


@pytest.mark.usefixtures("restored_collector")
def test_settle_heap_freezes_the_survivors_and_collects_the_young_generation_less_often() -> None:
    gc.unfreeze()
    _, middle, old = gc.get_threshold()
    garbage: list[Any] = []
    garbage.append(garbage)  # a cycle: collected first, never frozen
    del garbage
    service.settle_heap(12_345)
    assert gc.get_threshold() == (12_345, middle, old)
    assert gc.get_freeze_count() > 0
    assert gc.get_count()[0] < 100  # just collected
    assert service.YOUNG_COLLECTION_EVERY == 10_000


@pytest.mark.usefixtures("restored_collector")
def test_the_service_settles_the_heap_after_building_the_runtime_and_before_running_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    class Runtime:
        def __init__(self, settings: Settings, writer: object) -> None:
            calls.append("built")

        def stop(self) -> None: ...

        def run(self) -> int:
            calls.append("run")
            return 3

    monkeypatch.setattr(service, "ConsumerRuntime", Runtime)
    monkeypatch.setattr(service, "settle_heap", lambda: calls.append("settled"))
    assert service.serve(Settings(tradestore_env="test", metrics_port=0), object()) == 3  # type: ignore[arg-type]
    assert calls == ["built", "settled", "run"]
