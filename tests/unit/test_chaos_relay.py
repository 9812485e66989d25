"""The chaos Relay: routes a connection by the process that opened it, and slows a link on demand."""

from __future__ import annotations

import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tradestore.chaos.relay import Relay, by_owner
from tradestore.embedded.process import free_port


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def roundtrip(port: int, payload: bytes = b"ping") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(4096)


def test_a_connection_from_a_listed_process_goes_to_its_target(echo_port: int) -> None:
    nowhere = ("127.0.0.1", free_port())  # nothing listens: a connection routed here is reset
    relay = Relay(by_owner(lambda: {os.getpid(): ("127.0.0.1", echo_port)}, nowhere)).start()
    try:
        assert roundtrip(relay.port) == b"ping"
        assert relay.routed == {("127.0.0.1", echo_port): 1}
    finally:
        relay.stop()


def test_a_connection_from_an_unlisted_process_goes_to_the_default(echo_port: int) -> None:
    elsewhere = ("127.0.0.1", free_port())
    relay = Relay(by_owner(lambda: {1: elsewhere}, ("127.0.0.1", echo_port))).start()
    try:
        assert roundtrip(relay.port) == b"ping"
        assert relay.routed == {("127.0.0.1", echo_port): 1}
    finally:
        relay.stop()


def test_a_slow_link_delays_each_direction_and_recovers(echo_port: int) -> None:
    relay = Relay.fixed(("127.0.0.1", echo_port)).start()
    try:
        relay.delay_s = 0.2
        started = time.monotonic()
        assert roundtrip(relay.port) == b"ping"
        assert time.monotonic() - started >= 0.4  # 0.2 s there, 0.2 s back
        relay.delay_s = 0.0
        assert roundtrip(relay.port) == b"ping"
    finally:
        relay.stop()
