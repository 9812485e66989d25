"""A TCP proxy that can be switched to drop or stall connections: network faults on demand.

Put it in front of a service (a Kafka broker must advertise the proxy's address, see
EmbeddedBroker(advertised_port=...)), then flip its mode from a test or the fault-injection run:

- ``FORWARD``: bytes flow both ways;
- ``DROP``: every open connection is reset and new ones are reset as soon as they are accepted
  (a crashed host or a closed firewall port);
- ``STALL``: connections stay open but nothing flows, new ones are accepted but never reach the
  target (a network partition: clients see timeouts, not errors).

The proxy runs its own asyncio loop on a daemon thread, so synchronous tests can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

CHUNK = 64 * 1024


class Mode(enum.StrEnum):
    FORWARD = "forward"
    DROP = "drop"
    STALL = "stall"


class FaultProxy:
    """`listen_host:port` -> `target_host:target_port`; `port` is known after start() (0 = any free port)."""

    def __init__(
        self, target_host: str, target_port: int, listen_host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.target = (target_host, target_port)
        self.host = listen_host
        self.port = port
        self.mode = Mode.FORWARD
        self.accepted = 0
        self.bytes_forwarded = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> FaultProxy:
        """Bind and serve in the background; returns self once listening."""
        self._thread.start()
        self._call(self._start())
        return self

    def set_mode(self, mode: Mode | str) -> None:
        """Switch mode now; DROP also resets every open connection."""
        self._call(self._apply(Mode(mode)))

    def open_connections(self) -> int:
        """Client connections currently held (both directions counted once)."""
        return len(self._writers) // 2

    def stop(self) -> None:
        """Close the listener and every connection, stop the loop and join its thread."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _apply(self, mode: Mode) -> None:
        self.mode = mode
        if mode is Mode.FORWARD:
            self._flowing.set()
            return
        self._flowing.clear()
        if mode is Mode.DROP:
            for writer in list(self._writers):
                writer.transport.abort()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode is Mode.DROP:
            writer.transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:  # tracked so that stop() can cancel a connection held by STALL
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._writers.add(writer)
        try:
            await self._flowing.wait()  # STALL: accepted, but the target never hears of it
            if writer.transport.is_closing():
                return  # dropped while stalled
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return  # target down: the client sees its connection reset
            self._writers.add(up_writer)
            try:
                pumps = [
                    self._spawn(self._pump(reader, up_writer)),
                    self._spawn(self._pump(up_reader, writer)),
                ]
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._writers.discard(up_writer)
                up_writer.transport.abort()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(CHUNK):
                await self._flowing.wait()  # STALL holds bytes here; DROP aborts the transports
                if dst.transport.is_closing():
                    return
                self.bytes_forwarded += len(data)
                dst.write(data)
                await dst.drain()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
