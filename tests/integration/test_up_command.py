"""`scripts/up` (the README's run command) brings the whole stack up; a clean stop loses nothing.

The stack is started exactly as the README says, with only ports and TRADESTORE_HOME moved so the test
never collides with anything else on the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from fixtures.pipeline import poll
from shared.schema import SAMPLE_TRADE
from shared.settings import Settings
from shared.stores import open_audit
from tradestore.httpclient import ApiClient
from tradestore.local.mongo import EmbeddedMongo
from tradestore.local.process import free_port

pytestmark = pytest.mark.local_only  # starts and stops its own stack on this machine

ROOT = Path(__file__).resolve().parents[2]


class UpProcess:
    def __init__(self, home: Path) -> None:
        self.settings = Settings(
            tradestore_home=home,
            tradedata_port=free_port(),
            kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
            mongo_url=f"mongodb://127.0.0.1:{free_port()}",  # type: ignore[arg-type]
        )
        env = {
            **os.environ,
            "TRADESTORE_HOME": str(home),
            "TRADEDATA_PORT": str(self.settings.tradedata_port),
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
            "MONGO_URL": self.settings.mongo_url_value,
        }
        for name in ("SQL_URL", "TRADEDATA_URL", "TRADEDATA_API_KEYS"):
            env.pop(name, None)
        self.output = home / "up.out"
        home.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(ROOT / "scripts/up")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.ready_s = poll(
            self.read, lambda text: "TradeStore ready" in text or self.proc.poll() is not None, 120
        )
        assert "TradeStore ready" in self.ready_s, self.read()
        self.ready_after = time.monotonic() - self.started

    def read(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(120)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    stack = UpProcess(tmp_path / "home")
    try:
        yield stack
    finally:
        if stack.proc.poll() is None:
            stack.stop(signal.SIGTERM)


def test_readme_run_command_serves_the_seed_sample_trade_and_stops_cleanly(
    up: UpProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    banner = up.read()
    assert f"curl -X POST localhost:{up.settings.tradedata_port}/trades" in banner
    for part in ("Kafka", "MongoDB", "SQL", "TradeData", "kafkaconsumer", "kafkaconsumermssql"):
        assert part in banner
    client = ApiClient(up.settings.api_url)
    status, _, body = client.post("/trades", SAMPLE_TRADE)
    assert status == 201, body
    posted = time.monotonic()
    mongo = open_audit(up.settings, "mongo")
    sql = open_audit(up.settings, "sql")
    try:
        key = ("T-1001", 1, "B-1")
        poll(
            lambda: ([t.key for t in mongo.iter_trades()], [t.key for t in sql.iter_trades()]),
            lambda s: s == ([key], [key]),
            30,
            0.02,
        )
        visible_s = time.monotonic() - posted
        # a burst right before the stop: every 201 must be stored after the clean stop
        accepted = [
            i for i in range(200) if client.post("/trades", {**SAMPLE_TRADE, "trade_id": f"S-{i}"})[0] == 201
        ]
        assert len(accepted) == 200
    finally:
        client.close()
    assert up.stop(signal.SIGINT) == 0
    output = up.read()
    assert "consumers drained" in output
    assert "TradeStore stopped." in output
    mongo.close()
    # Every trade that got a 201 is in both stores after the clean stop (nx-27017 keeps its data on disk).
    assert len(list(sql.iter_trades("S-"))) == 200
    sql.close()
    server = EmbeddedMongo("127.0.0.1", free_port(), up.settings.tradestore_home / "mongo")
    server.start()
    try:
        reread = open_audit(up.settings.model_copy(update={"mongo_url": SecretStr(server.url)}), "mongo")
        assert len(list(reread.iter_trades("S-"))) == 200
        reread.close()
    finally:
        server.stop()
    with capsys.disabled():
        print(
            f"\ntradestore up: ready in {up.ready_after:.1f}s, "
            f"sample trade in both stores {visible_s:.2f}s after its 201"
        )


def children(pid: int) -> dict[int, str]:
    """Direct children of `pid` and their command lines (from /proc)."""
    found: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                child = int(stat.parent.name)
                found[child] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_a_part_that_dies_takes_the_stack_down_with_a_clear_message(up: UpProcess) -> None:
    consumer = next(pid for pid, cmd in children(up.proc.pid).items() if "consume mongo" in cmd)
    os.kill(consumer, signal.SIGKILL)
    assert up.proc.wait(60) == 1
    output = up.read()
    assert "kafkaconsumer died; stopping the stack" in output
    assert "TradeStore stopped." in output
    assert children(up.proc.pid) == {}
