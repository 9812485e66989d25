"""Backpressure against a real broker made unreachable by a FaultProxy: 503 + Retry-After, bounded queue.

The broker advertises the proxy's address, so every connection the producer makes goes through the
proxy. With KAFKA_QUEUE_MAX_MESSAGES=10, a burst of concurrent POSTs during the outage must be
answered 503 with Retry-After (never 2xx: nothing was acknowledged) while librdkafka's queue stays
at or under 10 records, and the API must recover once the network heals.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.kafka import create_topic
from shared.schema import SAMPLE_TRADE
from shared.settings import Settings
from tradedata.app import create_app
from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.process import free_port
from tradestore_tools.faults.proxy import FaultProxy, Mode

# Its own broker behind its own fault proxy, stalled and dropped here: nothing of a compose stack is involved.
pytestmark = pytest.mark.local_only

QUEUE_MAX = 10
BURST = 300
PUBLISH_TIMEOUT_S = 2.0
# Deadlines (never thresholds): how long to keep re-posting before "the API publishes" is declared false.
# Above librdkafka's own clocks: reconnect backoff (up to 10 s) and the 2 s publish timeout per attempt.
READY_S = 60.0
RECOVERY_S = 60.0


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    """A FaultProxy in front of an embedded broker of this module, which advertises the proxy."""
    port = free_port()
    with FaultProxy("127.0.0.1", port) as fault:
        broker = EmbeddedBroker("127.0.0.1", port, Path(tmp_path_factory.mktemp("kafka")), fault.port)
        broker.start()
        try:
            yield fault
        finally:
            broker.stop()


def trade(n: int) -> dict[str, Any]:
    return {**SAMPLE_TRADE, "trade_id": f"BP-{n}", "maturity_date": "2099-01-01"}


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Outcome:
    statuses: list[int] = field(default_factory=list)
    retry_after: list[str | None] = field(default_factory=list)
    peak_in_flight: int = 0
    rss_growth_kib: int = 0
    recovered: bool = False
    burst_s: float = 0.0
    recovery_s: float = 0.0


async def accepted_within(http: httpx.AsyncClient, body: dict[str, Any], deadline_s: float) -> bool:
    """Re-post `body` until the API answers 201 (the broker acknowledged) or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while loop.time() < deadline:
        if (await http.post("/trades", json=body)).status_code == 201:
            return True
        await asyncio.sleep(0.2)  # pacing between attempts; the outcome is the POST's own status
    return False


async def outage_burst(settings: Settings, proxy: FaultProxy, mode: Mode) -> Outcome:
    app = create_app(settings)
    outcome = Outcome()
    async with app.router.lifespan_context(app):
        producer = app.state.ctx.producer
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tradedata") as http:
            # Precondition, awaited: the API has published once (metadata cached, producer id obtained).
            # The lifespan's metadata fetch may time out on a loaded machine (first run of the module, fresh
            # broker), and then the first POST answers 503 by design: the cause of the [stall] flake.
            assert await accepted_within(http, trade(0), READY_S), "the API never published before the outage"
            proxy.set_mode(mode)
            rss_before = rss_kib()
            sampling = True

            async def sample() -> None:
                while sampling:
                    outcome.peak_in_flight = max(outcome.peak_in_flight, producer.in_flight())
                    await asyncio.sleep(0.005)

            sampler = asyncio.create_task(sample())
            t0 = asyncio.get_running_loop().time()
            responses = await asyncio.gather(*(http.post("/trades", json=trade(n)) for n in range(1, BURST)))
            sampling = False
            await sampler
            outcome.burst_s = asyncio.get_running_loop().time() - t0
            outcome.rss_growth_kib = rss_kib() - rss_before
            outcome.statuses = [r.status_code for r in responses]
            outcome.retry_after = [r.headers.get("retry-after") for r in responses]

            proxy.set_mode(Mode.FORWARD)
            t1 = asyncio.get_running_loop().time()
            outcome.recovered = await accepted_within(http, trade(BURST), RECOVERY_S)
            outcome.recovery_s = asyncio.get_running_loop().time() - t1  # printed, never asserted
    return outcome


@pytest.fixture(scope="module")
def outage(proxy: FaultProxy) -> Callable[[Mode], Outcome]:
    """The outcome of one outage scenario per mode, run once and shared by the tests below."""
    done: dict[Mode, Outcome] = {}

    def run(mode: Mode) -> Outcome:
        if mode not in done:
            proxy.set_mode(Mode.FORWARD)
            topic = create_topic(proxy.address, f"trades-bp-{uuid.uuid4().hex[:12]}")
            settings = Settings(
                tradestore_env="test",
                kafka_bootstrap_servers=proxy.address,
                trades_topic=topic,
                kafka_queue_max_messages=QUEUE_MAX,
                kafka_publish_timeout_s=PUBLISH_TIMEOUT_S,
                tradedata_api_keys=None,  # in-process app: auth off even when the environment names keys
            )
            done[mode] = outcome = asyncio.run(outage_burst(settings, proxy, mode))
            print(
                f"{mode}: statuses {sorted(set(outcome.statuses))}, peak in flight "
                f"{outcome.peak_in_flight}, RSS growth {outcome.rss_growth_kib} KiB, "
                f"burst {outcome.burst_s:.1f}s, recovered {outcome.recovered} in {outcome.recovery_s:.1f}s"
            )
        return done[mode]

    return run


@pytest.mark.parametrize("mode", [Mode.STALL, Mode.DROP])
def test_unreachable_broker_answers_503_with_retry_after_and_the_queue_stays_bounded(
    outage: Callable[[Mode], Outcome], mode: Mode
) -> None:
    outcome = outage(mode)
    assert len(outcome.statuses) == BURST - 1
    assert not [s for s in outcome.statuses if 200 <= s < 300], "a record nobody acknowledged got 2xx"
    assert set(outcome.statuses) == {503}
    assert set(outcome.retry_after) == {"1"}
    # librdkafka's len() counts protocol requests (metadata, producer id) next to queued records
    assert outcome.peak_in_flight <= QUEUE_MAX + 5
    assert outcome.rss_growth_kib < 64 * 1024


@pytest.mark.parametrize(
    "mode",
    [
        Mode.DROP,
        Mode.STALL,
    ],
)
def test_api_accepts_trades_again_once_the_network_heals(
    outage: Callable[[Mode], Outcome], mode: Mode
) -> None:
    assert outage(mode).recovered
