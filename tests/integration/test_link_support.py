"""Helpers for the link tests: small real servers on 127.0.0.1 and a polling wait.

No tests live here; the ``test_link*.py`` modules import from it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

from ial_resilience.agent.link import Link

LOOPBACK = "127.0.0.1"


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; returns the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


class Server:
    """A threaded TCP server on loopback; ``handler(conn)`` runs once per connection."""

    def __init__(self, handler: Callable[[socket.socket], None], backlog: int = 128) -> None:
        self._handler = handler
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(backlog)
        self.address: tuple[str, int] = self.sock.getsockname()
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self._handler(conn)
        conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def echo(conn: socket.socket) -> None:
    while data := conn.recv(1 << 16):
        conn.sendall(data)


def recv_all(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything until end of stream (raises on timeout or reset)."""
    sock.settimeout(timeout)
    parts = []
    while data := sock.recv(1 << 20):
        parts.append(data)
    return b"".join(parts)


def recv_exactly(sock: socket.socket, size: int, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    parts, left = [], size
    while left:
        data = sock.recv(min(left, 1 << 20))
        if not data:
            raise EOFError(f"stream ended with {left} of {size} bytes missing")
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


@contextlib.contextmanager
def running_server(handler: Callable[[socket.socket], None]) -> Iterator[Server]:
    server = Server(handler)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def running_link(upstream: tuple[str, int], **options: object) -> Iterator[Link]:
    link = Link("test", (LOOPBACK, 0), upstream, **options)  # type: ignore[arg-type]
    link.start()
    try:
        yield link
    finally:
        link.stop()


def connect(link: Link) -> socket.socket:
    sock = socket.create_connection(link.listen_address, timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    """Seconds for ``payload`` to come back from an echo server."""
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


def free_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port
