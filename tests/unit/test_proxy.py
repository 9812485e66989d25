"""FaultProxy: forwards bytes, stalls them, drops connections, and recovers, against a local echo server."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from tradestore_tools.faults.proxy import FaultProxy, Mode


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with FaultProxy("127.0.0.1", server.server_address[1]) as fault:
            yield fault
    finally:
        server.shutdown()
        server.server_close()


def connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection((proxy.host, proxy.port), timeout=2)


def echo(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def test_forward_mode_passes_bytes_both_ways(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        assert echo(sock, b"hello") == b"hello"
    assert proxy.bytes_forwarded >= 10


def test_stall_holds_bytes_until_forwarding_resumes(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        assert echo(sock, b"a") == b"a"
        proxy.set_mode(Mode.STALL)
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.set_mode(Mode.FORWARD)
        sock.settimeout(2)
        assert sock.recv(10) == b"held"


def test_stall_accepts_new_connections_but_never_reaches_the_target(proxy: FaultProxy) -> None:
    proxy.set_mode("stall")
    with connect(proxy) as sock:
        sock.sendall(b"x")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)


def closed_by_peer(sock: socket.socket) -> bool:
    """True when the other end reset or closed the connection (what a dropped link looks like)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_drop_resets_open_and_new_connections_then_recovers(proxy: FaultProxy) -> None:
    sock = connect(proxy)
    assert echo(sock, b"a") == b"a"
    proxy.set_mode(Mode.DROP)
    assert closed_by_peer(sock)
    sock.close()
    with connect(proxy) as fresh:
        assert closed_by_peer(fresh)
    proxy.set_mode(Mode.FORWARD)
    with connect(proxy) as again:
        assert echo(again, b"back") == b"back"
