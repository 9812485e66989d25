"""The chaos KafkaRelay: routes a connection by the Kafka client id of its first request; links slow down."""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from tradestore.local.process import free_port
from tradestore_tools.chaos.relay import KafkaRelay, route_by_prefix
from tradestore_tools.faults.proxy import FaultProxy


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


def kafka_request(client_id: str | None, body: bytes = b"\x00\x00") -> bytes:
    """An ApiVersions v3 request as librdkafka sends it first: size, api key 18, version, correlation id."""
    raw = None if client_id is None else client_id.encode()
    header = struct.pack(">hhih", 18, 3, 1, -1 if raw is None else len(raw)) + (raw or b"")
    return struct.pack(">i", len(header) + len(body)) + header + body


def roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


def test_longest_matching_prefix_wins_and_anything_else_goes_to_the_default() -> None:
    routes = {"tradedata": ("h", 1), "kafkaconsumer": ("h", 2), "kafkaconsumermssql": ("h", 3)}
    default = ("h", 9)
    assert route_by_prefix("tradedata", routes, default) == ("h", 1)
    assert route_by_prefix("kafkaconsumer-mongo-1", routes, default) == ("h", 2)
    assert route_by_prefix("kafkaconsumermssql-sql-1", routes, default) == ("h", 3)
    assert route_by_prefix("rdkafka", routes, default) == default
    assert route_by_prefix(None, routes, default) == default


def test_a_request_naming_a_routed_client_goes_to_its_target_bytes_intact(echo_port: int) -> None:
    nowhere = ("127.0.0.1", free_port())  # nothing listens: a connection routed here is reset
    relay = KafkaRelay({"tradedata": ("127.0.0.1", echo_port)}, nowhere).start()
    try:
        request = kafka_request("tradedata", body=b"x" * 70_000)  # more than one chunk after the header
        assert roundtrip(relay.port, request) == request
        assert relay.routed == {("127.0.0.1", echo_port): 1}
        assert relay.client_ids == {"tradedata"}
    finally:
        relay.stop()


@pytest.mark.parametrize("client_id", ["rdkafka", None, ""])
def test_an_unrouted_or_absent_client_id_goes_to_the_default(echo_port: int, client_id: str | None) -> None:
    elsewhere = ("127.0.0.1", free_port())
    relay = KafkaRelay({"tradedata": elsewhere}, ("127.0.0.1", echo_port)).start()
    try:
        request = kafka_request(client_id)
        assert roundtrip(relay.port, request) == request
        assert relay.routed == {("127.0.0.1", echo_port): 1}
    finally:
        relay.stop()


def test_a_slow_link_delays_each_direction_and_recovers(echo_port: int) -> None:
    link = FaultProxy("127.0.0.1", echo_port).start()
    try:
        link.delay_s = 0.2
        started = time.monotonic()
        assert roundtrip(link.port, b"ping") == b"ping"
        assert time.monotonic() - started >= 0.4  # 0.2 s there, 0.2 s back
        link.delay_s = 0.0
        assert roundtrip(link.port, b"ping") == b"ping"
    finally:
        link.stop()
