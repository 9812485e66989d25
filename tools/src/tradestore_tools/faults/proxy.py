"""A TCP proxy that can drop, stall or slow connections on demand, and pick each one's target.

Put it in front of a service (a Kafka broker must advertise the proxy's address, see
EmbeddedBroker(advertised_port=...)), then flip its mode from a test or the fault-injection run:

- ``FORWARD``: bytes flow both ways;
- ``DROP``: every open connection is reset and new ones are reset as soon as they are accepted
  (a crashed host or a closed firewall port);
- ``STALL``: connections stay open but nothing flows, new ones are accepted but never reach the
  target (a network partition: clients see timeouts, not errors).

``delay_s`` > 0 holds every chunk that long before forwarding it, in both directions (a slow link;
order is kept: one pump per direction). Subclasses choose a connection's target from what the client
sends first (`_route`, e.g. the chaos run's KafkaRelay routes by Kafka client id); the pumps are here only.
The proxy runs its own asyncio loop on a daemon thread (LoopServer), so synchronous tests can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import Counter

from tradestore_tools.faults.loop import LoopServer

CHUNK = 64 * 1024
Target = tuple[str, int]


class Mode(enum.StrEnum):
    FORWARD = "forward"
    DROP = "drop"
    STALL = "stall"


class FaultProxy(LoopServer):
    """`listen_host:port` -> `target_host:target_port`; `port` is known after start() (0 = any free port)."""

    def __init__(
        self, target_host: str, target_port: int, listen_host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(listen_host, port, "fault-proxy")
        self.target: Target = (target_host, target_port)
        self.mode = Mode.FORWARD
        self.delay_s = 0.0
        self.accepted = 0
        self.bytes_forwarded = 0
        self.routed: Counter[Target] = Counter()  # connections opened to each target
        self._flowing = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def set_mode(self, mode: Mode | str) -> None:
        """Switch mode now; DROP also resets every open connection."""
        self._call(self._apply(Mode(mode)))

    def open_connections(self) -> int:
        """Client connections currently held (both directions counted once)."""
        return len(self._writers) // 2

    async def _start(self) -> None:
        self._flowing.set()
        await super()._start()

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
        for writer in list(self._writers):
            writer.transport.abort()
        await super()._shutdown()

    async def _route(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[Target, bytes]:
        """The connection's target and the bytes read to choose it (forwarded first): here, the fixed one."""
        return self.target, b""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode is Mode.DROP:
            writer.transport.abort()
            return
        self._track(asyncio.current_task())  # so that stop() can cancel a connection held by STALL
        self._writers.add(writer)
        try:
            await self._flowing.wait()  # STALL: accepted, but the target never hears of it
            if writer.transport.is_closing():
                return  # dropped while stalled
            try:
                target, head = await self._route(reader, writer)
                self.routed[target] += 1
                up_reader, up_writer = await asyncio.open_connection(*target)
            except (OSError, asyncio.IncompleteReadError):
                return  # client gone before it said enough, or target down: the client sees a reset
            self._writers.add(up_writer)
            try:
                up_writer.write(head)
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

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(CHUNK):
                await self._flowing.wait()  # STALL holds bytes here; DROP aborts the transports
                if self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                if dst.transport.is_closing():
                    return
                self.bytes_forwarded += len(data)
                dst.write(data)
                await dst.drain()
