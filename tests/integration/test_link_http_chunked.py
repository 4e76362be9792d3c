"""HTTP-aware links on chunked request bodies, ``Expect: 100-continue`` and pipelined requests,
through a real link in front of a real keep-alive http.server on 127.0.0.1."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import httpx

from ial_resilience.faults.toxics import parse_toxic
from tests.integration.test_link_http_support import (
    Handler,
    chunked_request,
    http_server,
    raw_connection,
    read_response,
    request,
)
from tests.integration.test_link_support import LOOPBACK, running_link, wait_for

__all__ = ["http_server"]  # the fixture, used by name

CHUNKED_HEAD = b"POST %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKED_BODY = b"3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n"


def chunked(path: bytes) -> bytes:
    return CHUNKED_HEAD % path + CHUNKED_BODY


def test_chunked_posts_are_aborted_by_path_and_the_connection_stays_framed(
    http_server: ThreadingHTTPServer,
) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_abort", {"status": 503, "path": "/orders"}))
        conn = http.client.HTTPConnection(*link.listen_address, timeout=5)
        assert chunked_request(conn, "/orders", [b"abc", b"defg"])[0] == 503
        assert request(conn, "GET", "/health") == (200, b"GET /health 0")
        assert chunked_request(conn, "/orders/2", [b"x" * 70_000])[0] == 503
        assert chunked_request(conn, "/other", [b"abc", b"defg"]) == (200, b"POST /other 7")
        assert request(conn, "GET", "/orders/3")[0] == 503  # still matched afterwards
        evidence = link.remove_toxic(toxic)
        snapshot = link.snapshot()
    assert Handler.seen == [("GET", "/health", b""), ("POST", "/other", b"abcdefg")]
    assert evidence["requests_aborted"] == 3 and evidence["connections_closed"] == 0
    assert snapshot["connections_total"] == 1  # one keep-alive connection throughout


def test_chunked_posts_are_delayed_by_path_and_the_next_request_too(
    http_server: ThreadingHTTPServer,
) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_delay", {"delay_ms": 180, "path": "/slow"}))
        conn = http.client.HTTPConnection(*link.listen_address, timeout=5)
        started = time.monotonic()
        assert chunked_request(conn, "/slow/1", [b"ab", b"c"]) == (200, b"POST /slow/1 3")
        first = time.monotonic() - started
        assert chunked_request(conn, "/quick", [b"abcd"]) == (200, b"POST /quick 4")
        started = time.monotonic()
        assert request(conn, "GET", "/slow/2") == (200, b"GET /slow/2 0")
        second = time.monotonic() - started
        evidence = link.remove_toxic(toxic)
        snapshot = link.snapshot()
    assert first >= 0.18 and second >= 0.18
    assert evidence["requests_delayed"] == 2
    assert evidence["added_delay_ms"]["p50"] >= 180.0
    assert snapshot["connections_total"] == 1
    assert [body for _, _, body in Handler.seen] == [b"abc", b"abcd", b""]


def test_httpx_streaming_uploads_are_matched_on_a_kept_alive_connection(
    http_server: ThreadingHTTPServer,
) -> None:
    def parts() -> Iterator[bytes]:  # a generator: httpx sends it chunked
        yield b"abc"
        yield b"defg"

    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_abort", {"status": 429, "method": "POST"}))
        with httpx.Client(base_url=f"http://{LOOPBACK}:{link.listen_address[1]}") as client:
            first = client.post("/orders", content=parts())
            second = client.get("/health")
            third = client.post("/orders", content=parts())
        evidence = link.remove_toxic(toxic)
        snapshot = link.snapshot()
    assert [first.status_code, second.status_code, third.status_code] == [429, 200, 429]
    assert Handler.seen == [("GET", "/health", b"")]
    assert evidence["requests_aborted"] == 2 and snapshot["connections_total"] == 1


def test_a_chunked_request_written_byte_by_byte_keeps_extensions_and_trailers(
    http_server: ThreadingHTTPServer,
) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_abort", {"status": 502, "path": "/drop"}))
        sock, rfile = raw_connection(link.listen_address)
        with sock, rfile:
            for byte in chunked(b"/keep"):
                sock.send(bytes([byte]))
            assert read_response(rfile) == (200, b"POST /keep 7")
            sock.sendall(chunked(b"/drop"))
            assert read_response(rfile)[0] == 502
        evidence = link.remove_toxic(toxic)
    assert Handler.seen == [("POST", "/keep", b"abcdefg")]
    assert Handler.trailers == [[b"X-Sum: 7"]]
    assert evidence["requests_aborted"] == 1


def test_pipelined_requests_in_one_write_are_each_matched(
    http_server: ThreadingHTTPServer,
) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        abort = link.add_toxic(parse_toxic("http_abort", {"status": 503, "path": "/orders"}))
        delay = link.add_toxic(parse_toxic("http_delay", {"delay_ms": 50, "method": "GET"}))
        sock, rfile = raw_connection(link.listen_address)
        with sock, rfile:
            sock.sendall(
                chunked(b"/orders")
                + b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
                + chunked(b"/b")
                + b"PUT /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
            )
            responses = [read_response(rfile) for _ in range(4)]
        aborted, delayed = link.remove_toxic(abort), link.remove_toxic(delay)
    assert responses == [
        (503, b'{"error": "injected by ialr"}'),
        (200, b"GET /a 0"),
        (200, b"POST /b 7"),
        (200, b"PUT /c 2"),
    ]
    assert [(method, path) for method, path, _ in Handler.seen] == [
        ("GET", "/a"),
        ("POST", "/b"),
        ("PUT", "/c"),
    ]
    assert aborted["requests_aborted"] == 1 and delayed["requests_delayed"] == 1


def test_an_aborted_pipelined_request_is_answered_in_its_turn(
    http_server: ThreadingHTTPServer,
) -> None:
    """The injected answer waits for the server's answers to the requests sent before it."""
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_abort", {"status": 503, "path": "/orders"}))
        sock, rfile = raw_connection(link.listen_address)
        with sock, rfile:
            sock.sendall(
                b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
                + chunked(b"/b")
                + b"GET /orders/1 HTTP/1.1\r\nHost: t\r\n\r\n"
                + chunked(b"/orders/2")
                + b"HEAD /c HTTP/1.1\r\nHost: t\r\n\r\n"
                + b"GET /orders/3 HTTP/1.1\r\nHost: t\r\n\r\n"
            )
            responses = [read_response(rfile, head=i == 4) for i in range(6)]
        evidence = link.remove_toxic(toxic)
    injected = (503, b'{"error": "injected by ialr"}')
    assert responses == [
        (200, b"GET /a 0"),
        (200, b"POST /b 7"),
        injected,
        injected,
        (200, b""),
        injected,
    ]
    assert evidence["requests_aborted"] == 3


def test_two_abort_toxics_on_one_connection_never_wait_for_each_other(
    http_server: ThreadingHTTPServer,
) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        first = link.add_toxic(parse_toxic("http_abort", {"status": 503, "path": "/a"}))
        second = link.add_toxic(parse_toxic("http_abort", {"status": 502, "path": "/b"}))
        conn = http.client.HTTPConnection(*link.listen_address, timeout=5)
        statuses = [request(conn, "GET", path)[0] for path in ("/b", "/a", "/c", "/b", "/a")]
        sock, rfile = raw_connection(link.listen_address)
        with sock, rfile:  # pipelined: /b answered by the second toxic, /a by the first
            sock.sendall(b"GET /c HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n")
            pipelined = [read_response(rfile)[0] for _ in range(3)]
        evidence = [link.remove_toxic(first), link.remove_toxic(second)]
    assert statuses == [502, 503, 200, 502, 503]
    assert pipelined == [200, 502, 503]
    assert [e["requests_aborted"] for e in evidence] == [3, 3]


def test_an_upstream_only_abort_toxic_still_answers_on_a_kept_alive_connection(
    http_server: ThreadingHTTPServer,
) -> None:
    """Its server → client stage is not in the pipeline: answers must not wait for it."""
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        spec = parse_toxic("http_abort", {"status": 503, "path": "/orders"}, "upstream")
        toxic = link.add_toxic(spec)
        conn = http.client.HTTPConnection(*link.listen_address, timeout=5)
        statuses = [request(conn, "GET", path)[0] for path in ("/a", "/orders", "/b", "/orders")]
        evidence = link.remove_toxic(toxic)
        snapshot = link.snapshot()
    assert statuses == [200, 503, 200, 503]
    assert evidence["requests_aborted"] == 2 and snapshot["connections_total"] == 1


def test_expect_100_continue_gets_the_servers_continue_then_the_body_goes_on(
    http_server: ThreadingHTTPServer,
) -> None:
    head = CHUNKED_HEAD.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n") % b"/up"
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_delay", {"delay_ms": 100, "path": "/up"}))
        sock, rfile = raw_connection(link.listen_address)
        with sock, rfile:
            started = time.monotonic()
            sock.sendall(head)  # the head alone: the body waits for the server's 100
            assert rfile.readline() == b"HTTP/1.1 100 Continue\r\n"
            waited = time.monotonic() - started
            assert rfile.readline() == b"\r\n"
            sock.sendall(CHUNKED_BODY)
            assert read_response(rfile) == (200, b"POST /up 7")
        evidence = link.remove_toxic(toxic)
    assert waited >= 0.1  # the head itself was delayed; the body was not held back
    assert evidence["requests_delayed"] == 1


def test_an_aborted_expect_100_request_is_answered_and_its_late_body_swallowed(
    http_server: ThreadingHTTPServer,
) -> None:
    head = b"PUT /orders HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        link.add_toxic(parse_toxic("http_abort", {"status": 417, "path": "/orders"}))
        sock, rfile = raw_connection(link.listen_address)
        with sock, rfile:
            sock.sendall(head)
            assert read_response(rfile)[0] == 417
            sock.sendall(b"hello" + b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(rfile) == (200, b"GET /next 0")
    assert Handler.seen == [("GET", "/next", b"")]


def test_a_broken_chunked_body_passes_through_and_after_an_abort_closes(
    http_server: ThreadingHTTPServer,
) -> None:
    with running_link((LOOPBACK, http_server.server_address[1]), http=True) as link:
        toxic = link.add_toxic(parse_toxic("http_abort", {"status": 503, "path": "/orders"}))
        sock, rfile = raw_connection(link.listen_address)
        with sock, rfile:
            sock.sendall(CHUNKED_HEAD % b"/orders" + b"zz\r\n")  # not a chunk size
            assert read_response(rfile)[0] == 503
            assert rfile.read() == b""  # the proxy closed: the rest could not be followed
        evidence = link.remove_toxic(toxic)
        assert wait_for(lambda: link.snapshot()["connections_active"] == 0)
    assert evidence["connections_closed"] == 1
    assert Handler.seen == []
