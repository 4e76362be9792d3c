"""HTTP-aware links: ``http_abort`` and ``http_delay`` against a real http.server."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ial_resilience.faults.toxics import ToxicError, parse_toxic
from tests.integration.test_link_support import LOOPBACK, running_link


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = _read_chunked(self)
        self.seen.append((self.command, self.path, body))
        reply = f"{self.command} {self.path} {len(body)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def _read_chunked(handler: BaseHTTPRequestHandler) -> bytes:
    body = b""
    while True:
        size = int(handler.rfile.readline().strip(), 16)
        if size == 0:
            handler.rfile.readline()
            return body
        body += handler.rfile.read(size)
        handler.rfile.readline()


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    Handler.seen = []
    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
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


def test_http_abort_answers_matching_requests_and_forwards_the_rest(
    http_server: ThreadingHTTPServer,
) -> None:
    upstream = http_server.server_address[:2]
    with running_link((LOOPBACK, upstream[1]), http=True) as link:
        toxic = link.add_toxic(
            parse_toxic("http_abort", {"status": 503, "method": "GET", "path": "/orders"})
        )
        conn = http.client.HTTPConnection(*link.listen_address, timeout=5)
        assert request(conn, "GET", "/orders/7")[0] == 503
        assert request(conn, "GET", "/health") == (200, b"GET /health 0")
        assert request(conn, "POST", "/orders", b"x" * 3000) == (200, b"POST /orders 3000")
        assert request(conn, "GET", "/orders")[0] == 503  # same keep-alive connection
        evidence = link.remove_toxic(toxic)
        assert request(conn, "GET", "/orders") == (200, b"GET /orders 0")
    assert [(method, path) for method, path, _ in Handler.seen] == [
        ("GET", "/health"),
        ("POST", "/orders"),
        ("GET", "/orders"),
    ]
    assert evidence["requests_aborted"] == 2 and evidence["landed"] is True


def test_http_abort_with_zero_percentage_never_aborts(http_server: ThreadingHTTPServer) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_abort", {"status": 500, "percentage": 0}))
        conn = http.client.HTTPConnection(*link.listen_address, timeout=5)
        statuses = [request(conn, "GET", "/x")[0] for _ in range(10)]
        evidence = link.remove_toxic(toxic)
    assert statuses == [200] * 10
    assert evidence["landed"] is False


def test_http_delay_holds_matching_requests(http_server: ThreadingHTTPServer) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_delay", {"delay_ms": 200, "path": "/slow"}))
        conn = http.client.HTTPConnection(*link.listen_address, timeout=5)
        start = time.monotonic()
        assert request(conn, "GET", "/slow/1")[0] == 200
        slow = time.monotonic() - start
        start = time.monotonic()
        assert request(conn, "GET", "/fast")[0] == 200
        fast = time.monotonic() - start
        evidence = link.remove_toxic(toxic)
    assert slow >= 0.2
    assert fast < 0.2
    assert evidence["requests_delayed"] == 1
    assert evidence["added_delay_ms"]["p50"] >= 200.0


def test_chunked_request_bodies_pass_through_unmatched(http_server: ThreadingHTTPServer) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        link.add_toxic(parse_toxic("http_abort", {"status": 500, "method": "POST"}))
        conn = http.client.HTTPConnection(*link.listen_address, timeout=5)
        conn.request("POST", "/upload", body=iter([b"abc", b"defg"]), encode_chunked=True)
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"POST /upload 7")


def test_http_toxic_on_a_plain_link_is_refused() -> None:
    with running_link((LOOPBACK, 9)) as link, pytest.raises(ToxicError, match="HTTP-aware link"):
        link.add_toxic(parse_toxic("http_delay", {"delay_ms": 10}))
