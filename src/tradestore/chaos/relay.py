"""A TCP relay for the fault run: route each connection by the process that opened it, add latency.

Two things FaultProxy does not do, and the chaos run needs:

- *routing by client process*: a Kafka broker advertises one address, so every client ends up on it.
  The relay listens there and sends a connection opened by the API to one FaultProxy and one opened
  by a consumer to another (the owner is found in /proc: the socket's inode, then the pid whose fds
  hold it), so the API's and the consumers' broker links can fail separately;
- *latency*: with `delay_s` > 0 every chunk waits that long before it is forwarded, in both
  directions (order is kept: one pump per direction). That is a "slow store link".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from tradestore.faults.loop import LoopServer

CHUNK = 64 * 1024
Target = tuple[str, int]


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


class Relay(LoopServer):
    """Listen on host:port; `route(peer_port, listen_port)` picks each connection's target."""

    def __init__(self, route: Callable[[int, int], Target], host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, "chaos-relay")
        self.route = route
        self.delay_s = 0.0
        self.routed: dict[Target, int] = {}

    @classmethod
    def fixed(cls, target: Target) -> Relay:
        """A relay to one target (a store link that can be slowed)."""
        return cls(lambda _peer, _listen: target)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track(asyncio.current_task())
        peer_port = writer.get_extra_info("peername")[1]
        target = self.route(peer_port, self.port)
        self.routed[target] = self.routed.get(target, 0) + 1
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*target)
            except OSError:
                return  # target down: the client sees its connection reset
            try:
                pumps = [
                    self._spawn(self._pump(reader, up_writer)),
                    self._spawn(self._pump(up_reader, writer)),
                ]
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                up_writer.transport.abort()
        finally:
            writer.transport.abort()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(CHUNK):
                if self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                if dst.transport.is_closing():
                    return
                dst.write(data)
                await dst.drain()


def by_owner(routes: Callable[[], dict[int, Target]], default: Target) -> Callable[[int, int], Target]:
    """A route function: the target of the process owning the client socket, else `default`.

    `routes()` is called per connection (pids change when a consumer is restarted).
    """

    def route(peer_port: int, listen_port: int) -> Target:
        table = routes()
        inode = socket_inode(peer_port, listen_port)
        pid = owner_of(inode, list(table)) if inode else None
        return table[pid] if pid is not None else default

    return route
