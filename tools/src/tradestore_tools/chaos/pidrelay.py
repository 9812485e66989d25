"""Interim broker relay: routes a connection by the process that opened it, found in /proc.

Used until every Kafka client names its role in client.id; then the chaos run's KafkaRelay (relay.py),
which routes on that id, replaces it and this module goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from tradestore_tools.faults.proxy import FaultProxy, Target


def socket_inode(local_port: int, remote_port: int) -> str | None:
    """Inode of the loopback TCP socket 127.0.0.1:local_port -> :remote_port (from /proc/net/tcp)."""
    want_local, want_remote = f":{local_port:04X}", f":{remote_port:04X}"
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(want_local) and fields[2].endswith(want_remote):
                return fields[9]
    return None


def owner_of(inode: str, pids: list[int]) -> int | None:
    """The first of `pids` holding socket `inode` among its file descriptors."""
    needle = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == needle:
                        return pid
    return None


class PidRelay(FaultProxy):
    """A FaultProxy whose target is that of the client's process (`routes()`: pid -> target), else default."""

    def __init__(self, routes: Callable[[], dict[int, Target]], default: Target) -> None:
        super().__init__(*default)
        self.routes = routes

    async def _route(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[Target, bytes]:
        table = self.routes()
        inode = socket_inode(writer.get_extra_info("peername")[1], self.port)
        pid = owner_of(inode, list(table)) if inode else None
        return (table[pid] if pid is not None else self.target), b""
