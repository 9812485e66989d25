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
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

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


class Relay:
    """Listen on host:port; `route(peer_port, listen_port)` picks each connection's target."""

    def __init__(self, route: Callable[[int, int], Target], host: str = "127.0.0.1", port: int = 0) -> None:
        self.route = route
        self.host = host
        self.port = port
        self.delay_s = 0.0
        self.routed: dict[Target, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chaos-relay", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def fixed(cls, target: Target) -> Relay:
        """A relay to one target (a store link that can be slowed)."""
        return cls(lambda _peer, _listen: target)

    def start(self) -> Relay:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _track(self, task: asyncio.Task[None] | None) -> None:
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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
                    asyncio.ensure_future(self._pump(reader, up_writer)),
                    asyncio.ensure_future(self._pump(up_reader, writer)),
                ]
                for pump in pumps:
                    self._track(pump)
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
