"""The API docs and the operations console in a real browser: Debian's headless Chromium via Playwright.

Against the pipeline fixture (the `tradestore up` stack) plus an API instance of this module, started
with authentication on and the sinks' probes configured, so every console panel has something to show.
Every page must load with no console error and no request to a host other than this one; each page is
saved as a screenshot under reports/screenshots/.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, sync_playwright
from pydantic import SecretStr

from fixtures.pipeline import Pipeline, poll
from tradedata.app import create_app
from tradestore.cli import main
from tradestore.local.process import free_port

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; scripts/test installs it; never `playwright install`
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"
ADMIN_KEY = "console-admin-key-0001"
VIEWER_KEY = "console-viewer-key-0001"  # trades:read only
WRITER_KEY = "console-writer-key-0001"  # trades:write only
API_KEYS = (
    f"ops:trades:read,trades:write,trades:admin:{ADMIN_KEY};viewer:trades:read:{VIEWER_KEY};"
    f"writer:trades:write:{WRITER_KEY}"
)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Console:
    url: str
    pipeline: Pipeline
    home: Path
    headers: dict[str, str] = field(default_factory=lambda: {"X-API-Key": ADMIN_KEY})

    def post(self, trade: dict[str, Any]) -> int:
        return httpx.post(f"{self.url}/trades", json=trade, headers=self.headers, timeout=10).status_code


@pytest.fixture(scope="module")
def console(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """This module's API on the pipeline: auth on, the sinks' probes named (TRADEDATA_CONSOLE_SINKS)."""
    sinks = ",".join(
        f"{'mongo' if c.name == 'kafkaconsumer' else 'sql'}=http://127.0.0.1:{c.port}"
        for c in (pipeline.stack.consumers if pipeline.stack else [])
    )
    settings = pipeline.settings.model_copy(
        update={
            "tradedata_port": free_port(),
            "tradedata_api_keys": SecretStr(API_KEYS),
            "tradedata_console_sinks": sinks or None,
            "tradestore_home": tmp_path_factory.mktemp("console"),
        }
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.tradedata_port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="console-api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.tradedata_port}"
    try:
        poll(lambda: _status(f"{url}/ready"), lambda s: s == 200, timeout_s=30)
        yield Console(url, pipeline, settings.tradestore_home)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (scripts/test installs it)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class Watched:
    page: Page
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.foreign == [], self.foreign


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Watched]:
    """A page sending the admin key, recording console errors and requests to other hosts."""
    tab = browser.new_page()
    watched = Watched(tab)
    tab.set_extra_http_headers({"X-API-Key": ADMIN_KEY})

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            watched.errors.append(msg.text)

    def on_request(request: Request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in LOCAL_HOSTS:
            watched.foreign.append(request.url)

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    tab.on("request", on_request)
    try:
        yield watched
    finally:
        tab.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def trade(trade_id: str, version: int = 1, book: str = "B-CON") -> dict[str, Any]:
    return {
        "trade_id": trade_id,
        "counterparty_id": "CP-CONSOLE",
        "book_id": book,
        "version": version,
        "maturity_date": "2030-01-15",
        "created_date": "2025-09-28",
        "expired": False,
    }


def test_swagger_ui_renders_offline_and_executes_post_trades(console: Console, page: Watched) -> None:
    tab = page.page
    tab.goto(f"{console.url}/docs")
    post = tab.locator("#operations-trades-post_trade_trades_post, .opblock-post").first
    post.wait_for(timeout=20_000)
    assert tab.locator(".opblock").count() >= 4
    post.locator(".opblock-summary").click()
    tab.locator(".body-param__text").first.wait_for()
    assert '"trade_id": "T-1001"' in tab.locator(".body-param__text").first.input_value()  # the sample
    tab.locator("button.execute").first.click()
    status = tab.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=20_000)
    assert status.inner_text().strip().startswith("201")
    shot(tab, "docs")
    page.clean()


def test_a_posted_trade_appears_in_search_with_where_it_is_stored(
    console: Console, page: Watched, prefix: str
) -> None:
    trade_id = f"{prefix}SEARCH"
    assert console.post(trade(trade_id, book=f"{prefix}BOOK")) == 201
    console.pipeline.wait_stored(prefix, 1)
    tab = page.page
    tab.goto(f"{console.url}/console/trades?book_id={prefix}BOOK")
    assert tab.locator("#results").get_by_text(trade_id).count() == 1
    shot(tab, "trades")
    tab.locator("#results a", has_text=trade_id).click()
    row = tab.locator("#versions tr", has_text=f"{prefix}BOOK").first
    assert "stored" in row.inner_text()
    assert row.inner_text().count("stored") == 3  # MongoDB, SQL and the outcome
    shot(tab, "trade")
    page.clean()


def test_a_dead_lettered_record_is_redriven_after_confirmation(
    console: Console, page: Watched, prefix: str
) -> None:
    trade_id = f"{prefix}LOW"
    assert console.post(trade(trade_id, version=2)) == 201
    console.pipeline.wait_stored(prefix, 1)
    assert console.post(trade(trade_id, version=1)) == 201  # lower: both sinks dead-letter it
    poll(lambda: console.pipeline.dead_letters(prefix), lambda d: len(d) == 2, timeout_s=60)
    tab = page.page
    tab.goto(f"{console.url}/console/dlq?trade_id={trade_id}")
    rows = tab.locator("#letters tr", has_text="lower_version")
    assert rows.count() == 2
    shot(tab, "dlq")
    tab.locator("#letters a").first.click()
    assert "dlq.reason" in tab.locator("#headers").inner_text()
    assert trade_id in tab.locator("#value").inner_text()
    shot(tab, "dead-letter")
    tab.goto(f"{console.url}/console/dlq?trade_id={trade_id}&sink=mongo")
    tab.locator("#letters input[type=checkbox]").first.check()
    tab.get_by_role("button", name="Redrive selected…").click()
    assert "redrive.of=" in tab.locator("#plan").inner_text()
    shot(tab, "redrive-confirm")
    tab.locator("#confirm").click()
    assert "1 record(s) acknowledged" in tab.locator("#done").inner_text()
    shot(tab, "redriven")
    redriven = poll(
        lambda: [r for r in console.pipeline.topic_records(prefix) if "redrive.of" in r.headers],
        lambda found: len(found) == 1,
    )
    assert redriven[0].key == f"{trade_id}:1:B-CON".encode()
    # the same rules apply again: both sinks refuse the redriven lower version, naming its new offset
    again = poll(lambda: console.pipeline.dead_letters(prefix), lambda d: len(d) == 4, timeout_s=60)
    origin = str(redriven[0].offset).encode()
    assert sorted(d.headers["dlq.sink"] for d in again if d.headers["dlq.offset"] == origin) == [
        b"mongo",
        b"sql",
    ]
    page.clean()


def test_health_page_shows_every_part(console: Console, page: Watched, prefix: str) -> None:
    tab = page.page
    sent = 0

    def throughput_drawn() -> bool:
        nonlocal sent
        for _ in range(20):
            sent += 1
            assert console.post(trade(f"{prefix}{sent}")) == 201
        tab.goto(f"{console.url}/console")
        return tab.locator("#throughput polyline").count() >= 1

    if console.pipeline.stack is not None:  # the sampler needs two samples of the sinks' counters
        poll(throughput_drawn, bool, timeout_s=60, step_s=1.0)
    env = {**console.pipeline.settings.to_env(), "TRADESTORE_HOME": str(console.home)}
    with pytest.MonkeyPatch.context() as mp:  # `tradestore reconcile` records what the console shows
        for name, value in env.items():
            mp.setenv(name, value)
        code = main(["reconcile", "--show", "0"])
    tab.goto(f"{console.url}/console")
    assert "keys compared" in tab.locator("#reconcile").inner_text()
    assert ("stores agree" if code == 0 else "stores differ") in tab.locator("#reconcile").inner_text()
    components = tab.locator("#components").inner_text()
    assert "reachable" in components
    if console.pipeline.stack is not None:
        assert components.count("ready") >= 2
    assert tab.locator("#lag svg.bars").count() == 1
    assert tab.locator("#throughput svg").count() >= 1
    shot(tab, "health")
    tab.screenshot(path=str(SCREENSHOTS / "console.png"))  # the viewport: the README's picture
    page.clean()


def test_console_without_credentials_or_scope_is_refused(
    console: Console, browser: BrowserContext, prefix: str
) -> None:
    tab = browser.new_page()  # no key
    try:
        for path in ("/console", "/console/trades", "/console/dlq"):
            response = tab.goto(f"{console.url}{path}")
            assert response is not None
            assert response.status == 401, path
        tab.set_extra_http_headers({"X-API-Key": "not-a-key"})
        response = tab.goto(f"{console.url}/console/dlq")
        assert response is not None
        assert response.status == 403
        assert json.loads(tab.locator("body").inner_text())["status"] == 403
    finally:
        tab.close()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    writer = httpx.get(f"{console.url}/console", headers={"X-API-Key": WRITER_KEY})
    assert writer.status_code == 403  # no trades:read
    assert "trades:read" in writer.json()["detail"]
    viewer = {"X-API-Key": VIEWER_KEY}
    assert httpx.get(f"{console.url}/console/dlq", headers=viewer, timeout=30).status_code == 200
    refused = httpx.post(
        f"{console.url}/console/dlq/redrive", content=b"position=0:0", headers={**form, **viewer}
    )
    assert refused.status_code == 403  # trades:read does not redrive
    assert "trades:admin" in refused.json()["detail"]
    assert console.post(trade(f"{prefix}F", version=2)) == 201
    assert console.post(trade(f"{prefix}F", version=1)) == 201
    dead = poll(lambda: console.pipeline.dead_letters(prefix), lambda d: len(d) >= 1, timeout_s=60)[0]
    forged = httpx.post(
        f"{console.url}/console/dlq/redrive/confirm",
        content=f"position={dead.partition}:{dead.offset}&token=9999999999.forged".encode(),
        headers={**form, **console.headers},
        timeout=30,
    )
    assert forged.status_code == 403  # an admin, a real dead letter, but no token from the confirmation page
    assert "confirmation is missing or expired" in forged.text
