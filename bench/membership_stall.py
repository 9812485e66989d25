"""Reproduction: consumer group membership changes on the embedded broker (Tansu), client side varied.

Three members of one group (confluent-kafka consumers, each its own process) on a 6-partition topic with
records flowing; then one scenario: `newid` (SIGKILL one, start a member with a new id), `sameid` (SIGKILL
one, restart it with its id), `scaledown` (SIGTERM one), `scaleup` (a fourth member joins), `churn` (12
kills/stops and restarts with the same ids). Prints, as JSON, the seconds until every partition is held by
a live member ("heal_s", null = not within --limit) and the timeline of assignments. The client side is
varied with --strategy, --session, --max-poll, --static 0 (dynamic membership) and --rejoin S (a member
holding nothing for S seconds closes and joins again). Figures: docs/scaling.md, "Membership on Tansu".
A program, not a test: figures are printed, never asserted.

    python bench/membership_stall.py --scenario newid --strategy cooperative-sticky --limit 100
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tradestore.local.kafka import EmbeddedBroker
from tradestore.local.process import free_port


def member(cfg: dict[str, Any], opts: dict[str, Any]) -> None:
    """One group member: prints JSON events (assign, revoke, rejoin) on stdout until killed."""
    held: set[int] = set()
    idle_since: list[float | None] = [time.monotonic()]

    def emit(**event: Any) -> None:
        print(json.dumps({"t": time.time(), "who": opts["name"], **event}), flush=True)

    def on_assign(_c: Consumer, parts: list[Any]) -> None:
        new = {p.partition for p in parts}
        held.update(new) if opts["coop"] else (held.clear(), held.update(new))
        idle_since[0] = None if held else idle_since[0]
        emit(ev="assign", parts=sorted(held))

    def on_revoke(_c: Consumer, parts: list[Any]) -> None:
        held.difference_update(p.partition for p in parts)
        if not held:
            idle_since[0] = time.monotonic()
        emit(ev="revoke", parts=sorted(held))

    def join() -> Consumer:
        consumer = Consumer(cfg)
        consumer.subscribe([opts["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
        return consumer

    consumer = join()
    while True:
        consumer.poll(0.2)
        since = idle_since[0]
        if opts["rejoin_s"] and since is not None and time.monotonic() - since > opts["rejoin_s"]:
            emit(ev="rejoin")
            consumer.close()
            held.clear()
            idle_since[0] = time.monotonic()
            consumer = join()


class Group:
    """The members' processes and what each holds (from their events)."""

    def __init__(self, args: argparse.Namespace, bootstrap: str) -> None:
        self.args, self.bootstrap = args, bootstrap
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.held: dict[str, set[int]] = {}
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def start(self, name: str) -> None:
        a = self.args
        cfg: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "group.id": "stall",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": a.session,
            "heartbeat.interval.ms": 500,
            "max.poll.interval.ms": a.max_poll,
            "partition.assignment.strategy": a.strategy,
            "client.id": name,
        }
        if a.static:
            cfg["group.instance.id"] = name
        opts = {"topic": "t", "name": name, "rejoin_s": a.rejoin, "coop": a.strategy == "cooperative-sticky"}
        argv = [sys.executable, __file__, "--member", json.dumps([cfg, opts])]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.procs[name] = proc
        threading.Thread(target=self._read, args=(name, proc), daemon=True).start()

    def _read(self, name: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            with self.lock:
                self.events.append(event)
                self.held[name] = set(event.get("parts", []))

    def end(self, name: str, sig: signal.Signals) -> None:
        self.procs[name].send_signal(sig)
        self.procs[name].wait()
        with self.lock:
            self.held[name] = set()

    def wait_covered(self, names: str, limit_s: float) -> float | None:
        """Seconds until `names` together hold every partition, each at least one (None: not in time)."""
        started = time.monotonic()
        while time.monotonic() - started < limit_s:
            with self.lock:
                sets = [self.held.get(n, set()) for n in names]
            if all(sets) and set().union(*sets) == set(range(self.args.partitions)):
                return round(time.monotonic() - started, 1)
            time.sleep(0.1)  # a measurement's sampling step, not a synchronisation
        return None


def scenario(group: Group, name: str, limit_s: float) -> float | None:
    if name in ("newid", "sameid"):
        group.end("c", signal.SIGKILL)
        group.start("d" if name == "newid" else "c")
        return group.wait_covered("abd" if name == "newid" else "abc", limit_s)
    if name == "scaledown":
        group.end("c", signal.SIGTERM)
        return group.wait_covered("ab", limit_s)
    if name == "scaleup":
        group.start("d")
        return group.wait_covered("abcd", limit_s)
    rng = random.Random(group.args.partitions)
    for _ in range(12):
        victim = rng.choice("abc")
        group.end(victim, signal.SIGKILL if rng.random() < 0.5 else signal.SIGTERM)
        time.sleep(rng.uniform(0.2, 2.0))  # the churn's schedule
        group.start(victim)
        time.sleep(rng.uniform(0.5, 3.0))
    return group.wait_covered("abc", limit_s)


def produce(bootstrap: str, partitions: int, stop: threading.Event) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    while not stop.wait(0.25):
        for p in range(partitions):
            producer.produce("t", b"x", partition=p)
        producer.poll(0)
    producer.flush(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--member", help=argparse.SUPPRESS)
    ap.add_argument(
        "--scenario", default="newid", choices=("newid", "sameid", "scaledown", "scaleup", "churn")
    )
    ap.add_argument("--strategy", default="range", choices=("range", "roundrobin", "cooperative-sticky"))
    ap.add_argument("--session", type=int, default=6000)
    ap.add_argument("--max-poll", type=int, default=300_000)
    ap.add_argument("--static", type=int, default=1)
    ap.add_argument("--rejoin", type=float, default=None)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--limit", type=float, default=120.0)
    args = ap.parse_args()
    if args.member:
        cfg, opts = json.loads(args.member)
        member(cfg, opts)
        return
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port, Path(tempfile.mkdtemp(prefix="stall-")))
    broker.start()
    bootstrap = f"127.0.0.1:{port}"
    stop = threading.Event()
    group = Group(args, bootstrap)
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: its futures need it alive
        admin.create_topics([NewTopic("t", args.partitions, 1)])["t"].result(30)
        threading.Thread(target=produce, args=(bootstrap, args.partitions, stop), daemon=True).start()
        for name in "abc":
            group.start(name)
        t0 = time.time()
        result = {"args": vars(args), "initial_join_s": group.wait_covered("abc", 60)}
        result["heal_s"] = scenario(group, args.scenario, args.limit)
        result["held"] = {k: sorted(v) for k, v in sorted(group.held.items())}
        result["timeline"] = [
            (round(e["t"] - t0, 1), e["who"], e["ev"], e.get("parts")) for e in group.events
        ]
        print(json.dumps(result))
    finally:
        stop.set()
        for proc in group.procs.values():
            if proc.poll() is None:
                proc.kill()
        broker.stop()


if __name__ == "__main__":
    main()
