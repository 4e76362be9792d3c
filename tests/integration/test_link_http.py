"""HTTP-aware links: ``http_abort`` and ``http_delay`` against a real http.server."""

from __future__ import annotations

import http.client
import time
from http.server import ThreadingHTTPServer

import pytest

from ial_resilience.faults.toxics import ToxicError, parse_toxic
from tests.integration.test_link_http_support import Handler, http_server, request
from tests.integration.test_link_support import LOOPBACK, running_link

__all__ = ["http_server"]  # the fixture, used by name


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


def test_http_toxic_on_a_plain_link_is_refused() -> None:
    with running_link((LOOPBACK, 9)) as link, pytest.raises(ToxicError, match="HTTP-aware link"):
        link.add_toxic(parse_toxic("http_delay", {"delay_ms": 10}))
