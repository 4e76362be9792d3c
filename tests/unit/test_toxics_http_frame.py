"""Framing of HTTP/1.1 requests for HTTP-aware links, fed in arbitrary pieces."""

from __future__ import annotations

from ial_resilience.agent._http_frame import RequestFramer, parse_head
from ial_resilience.faults.toxics._stage import Chunk, HttpRequestHead

GET = b"GET /orders/1 HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /pay HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"


def feed_in_pieces(data: bytes, size: int) -> list[Chunk]:
    framer = RequestFramer()
    out: list[Chunk] = []
    for start in range(0, len(data), size):
        out += framer.feed(Chunk(data[start : start + size], 1.0, 1.0))
    return out


def test_requests_are_framed_whatever_the_piece_size() -> None:
    stream = GET + POST + GET
    for size in (1, 3, 7, 64, len(stream)):
        chunks = feed_in_pieces(stream, size)
        assert b"".join(c.data for c in chunks) == stream
        heads = [(c.request, c.request_id) for c in chunks if c.request is not None]
        assert heads == [
            (HttpRequestHead("GET", "/orders/1"), 0),
            (HttpRequestHead("POST", "/pay"), 1),
            (HttpRequestHead("GET", "/orders/1"), 2),
        ]
        body = b"".join(c.data for c in chunks if c.request_id == 1 and c.request is None)
        assert body == b"hello"


def test_chunked_bodies_switch_the_connection_to_pass_through() -> None:
    chunked = b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    chunks = feed_in_pieces(chunked + GET, 5)
    assert b"".join(c.data for c in chunks) == chunked + GET
    assert all(c.request is None and c.request_id == -1 for c in chunks)


def test_an_incomplete_head_is_released_by_flush() -> None:
    framer = RequestFramer()
    assert framer.feed(Chunk(b"GET / HT", 1.0, 1.0)) == []
    [held] = framer.flush(2.0)
    assert held.data == b"GET / HT"


def test_parse_head_reads_method_path_and_length() -> None:
    assert parse_head(POST[: POST.index(b"\r\n\r\n") + 4]) == (HttpRequestHead("POST", "/pay"), 5)
    absolute = b"GET http://h/a/b?q=1 HTTP/1.1\r\n\r\n"
    assert parse_head(absolute) == (HttpRequestHead("GET", "/a/b"), 0)
    assert parse_head(b"NOT HTTP\r\n\r\n") is None
    assert parse_head(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n") is None
