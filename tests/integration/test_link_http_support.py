"""Helpers for the HTTP-aware link tests: a real keep-alive http.server on 127.0.0.1 and a
raw-socket HTTP/1.1 response reader. No tests live here; ``test_link_http*.py`` import it.
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO, ClassVar

import pytest

from tests.integration.test_link_support import LOOPBACK


class Handler(BaseHTTPRequestHandler):
    """Answers ``METHOD PATH BODY-LENGTH``; records every request it really received."""

    protocol_version = "HTTP/1.1"  # keep-alive, and ``Expect: 100-continue`` answered
    seen: ClassVar[list[tuple[str, str, bytes]]] = []
    trailers: ClassVar[list[list[bytes]]] = []

    def _answer(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, body))
        reply = f"{self.command} {self.path} {len(body)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = _answer

    def do_HEAD(self) -> None:
        self.seen.append((self.command, self.path, b""))
        self.send_response(200)
        self.send_header("Content-Length", "12")  # what a GET would carry; no body follows
        self.end_headers()

    def _read_chunked(self) -> bytes:
        body = b""
        while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
            body += self.rfile.read(size)
            assert self.rfile.readline() == b"\r\n"
        trailers = []
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            trailers.append(line.strip())
        self.trailers.append(trailers)
        return body

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    """A client the link answered or cut (http_abort, reset) is expected: no traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    Handler.seen = []
    Handler.trailers = []
    server = _QuietServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    conn.request(method, path, body=body)
    response = conn.getresponse()
    return response.status, response.read()


def chunked_request(
    conn: http.client.HTTPConnection, path: str, parts: list[bytes]
) -> tuple[int, bytes]:
    """A POST whose body is sent with ``Transfer-Encoding: chunked``, one chunk per part."""
    conn.request("POST", path, body=iter(parts), encode_chunked=True)
    response = conn.getresponse()
    return response.status, response.read()


def read_response(rfile: BinaryIO, head: bool = False) -> tuple[int, bytes]:
    """One response (status, body by Content-Length; none for ``head``) from a raw reader."""
    status_line = rfile.readline()
    if not status_line:
        raise EOFError("the connection ended before a response")
    status = int(status_line.split()[1])
    length = 0
    while (line := rfile.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, b"" if head else rfile.read(length)


def raw_connection(address: tuple[str, int]) -> tuple[socket.socket, BinaryIO]:
    sock = socket.create_connection(address, timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock, sock.makefile("rb")
