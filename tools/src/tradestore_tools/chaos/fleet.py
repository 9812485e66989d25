"""The consumer instances of the fault run and the churn faults on them.

Each sink runs `instances` static members (CONSUMER_INSTANCE_ID `<role>-<i>-chaos-<host>`): a killed or
scaled-down instance comes back with its *same* id and takes its place again. A "new-id join" starts an
extra member with a new identity (dynamic membership: no instance id), lets it hold partitions for the
fault's duration, then stops it (it leaves the group). A static member that never returns is not among the
faults: Tansu never evicts it and its partitions stay idle (docs/scaling.md, "Membership on Tansu").

Assignment changes per instance are counted from its log (the runtime logs "holds partitions" on every
assignment and revocation), across restarts: the log file is appended to.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Callable
from pathlib import Path

from tradestore.local.process import free_port
from tradestore.local.services import ServiceProcess

READY_S = 120.0  # a (re)started member must hold a partition within this long
CHANGE_MARK = "holds partitions"
Wait = Callable[[float], None]  # time.sleep, a fake in tests


def instance_name(role: str, index: int) -> str:
    return f"{role}-{index}"


def new_instance(
    role: str, sink: str, name: str, env: dict[str, str], logs: Path, static: bool = True
) -> ServiceProcess:
    """A consumer process of `role` (not started); static members carry an instance id of their own."""
    port = free_port()
    child = {**env, "LOG_LEVEL": "INFO", "METRICS_PORT": str(port)}
    if static:
        child["CONSUMER_INSTANCE_ID"] = f"{name}-chaos-{socket.gethostname()}"
    else:
        child.pop("CONSUMER_INSTANCE_ID", None)
    return ServiceProcess(name, ["consume", sink], "127.0.0.1", port, logs, child)


def pick(consumers: dict[str, ServiceProcess], role: str, rng: random.Random) -> ServiceProcess:
    """One of `role`'s static instances, chosen by `rng`."""
    names = sorted(n for n in consumers if n.rsplit("-", 1)[0] == role)
    return consumers[rng.choice(names)]


def kill_restart(member: ServiceProcess, down_s: float, wait: Wait) -> None:
    """SIGKILL (whatever batch it held is neither written nor committed), down, back with the same id."""
    member.kill()
    wait(down_s)
    member.start(timeout_s=READY_S)


def scale_down_up(member: ServiceProcess, down_s: float, wait: Wait) -> None:
    """SIGTERM (the in-flight batch finishes), down, started again with the same id."""
    member.stop()
    wait(down_s)
    member.start(timeout_s=READY_S)


def join_and_leave(joiner: ServiceProcess, hold_s: float, wait: Wait) -> None:
    """A new member joins, holds partitions (ready) for `hold_s`, then stops and leaves the group."""
    try:
        joiner.start(timeout_s=READY_S)
        wait(hold_s)
    finally:
        joiner.stop()


def assignment_changes(members: dict[str, ServiceProcess]) -> dict[str, int]:
    """Assignments and revocations each instance logged over the run (restarts included)."""
    counts: dict[str, int] = {}
    for name, member in sorted(members.items()):
        try:
            text = member.log_path.read_text(errors="replace")
        except OSError:
            text = ""
        counts[name] = text.count(CHANGE_MARK)
    return counts


def held_at_end(members: dict[str, ServiceProcess]) -> dict[str, list[int]]:
    """The partitions each live instance last said it holds (its last "holds partitions [...]" line)."""
    held: dict[str, list[int]] = {}
    for name, member in sorted(members.items()):
        if not member.alive():
            continue
        try:
            lines = [
                ln for ln in member.log_path.read_text(errors="replace").splitlines() if CHANGE_MARK in ln
            ]
        except OSError:
            lines = []
        last = lines[-1].rsplit(CHANGE_MARK, 1)[1].strip() if lines else "[]"
        held[name] = json.loads(last) if last.startswith("[") else []
    return held


def unheld(held: dict[str, list[int]], partitions: int) -> dict[str, list[int]]:
    """Per role, the partitions no live instance holds (a stalled group shows here)."""
    roles = {name.rsplit("-", 1)[0] for name in held}
    out = {}
    for role in sorted(roles):
        taken = {p for name, parts in held.items() if name.rsplit("-", 1)[0] == role for p in parts}
        out[role] = sorted(set(range(partitions)) - taken)
    return out
