"""Framing of HTTP/1.1 requests for HTTP-aware links, fed in arbitrary pieces."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ial_resilience.agent._http_frame import (
    NO_REQUEST,
    RequestFramer,
    Unframed,
    parse_head,
    request_line,
)
from ial_resilience.faults.toxics._stage import Chunk, HttpRequestHead
from ial_resilience.faults.toxics.http_body import MAX_HEAD

GET = b"GET /orders/1 HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /pay HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED_BODY = (
    b"3;name=value\r\nabc\r\n"
    b'A ; a=1;b="q;x"\r\n0123456789\r\n'
    b"0\r\nX-Checksum: 42\r\nX-Other: y\r\n\r\n"
)
CHUNKED = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_BODY
CHUNKED_SIMPLE = (
    b"PUT /blob HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
)
CONTINUE = b"POST /big HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nxyz"
LF_ONLY = b"GET /lf HTTP/1.1\nHost: x\n\nDELETE /lf/2 HTTP/1.0\n\n"
STREAM = GET + POST + CHUNKED + b"\r\n" + CHUNKED_SIMPLE + CONTINUE + LF_ONLY + GET
HEADS = [
    HttpRequestHead("GET", "/orders/1"),
    HttpRequestHead("POST", "/pay"),
    HttpRequestHead("POST", "/up"),
    HttpRequestHead("PUT", "/blob"),
    HttpRequestHead("POST", "/big"),
    HttpRequestHead("GET", "/lf"),
    HttpRequestHead("DELETE", "/lf/2"),
    HttpRequestHead("GET", "/orders/1"),
]


def feed_at(data: bytes, cuts: list[int], framer: RequestFramer | None = None) -> list[Chunk]:
    """Feed ``data`` split at ``cuts`` (offsets), then flush, as a pump does."""
    framer = framer or RequestFramer()
    out: list[Chunk] = []
    bounds = [0, *sorted(set(cuts)), len(data)]
    for start, stop in itertools.pairwise(bounds):
        if stop > start:
            out += framer.feed(Chunk(data[start:stop], 1.0, 1.0))
    return out + framer.flush(2.0)


def framing(chunks: list[Chunk]) -> list[tuple[int, HttpRequestHead | None, bytes]]:
    """Per request id: its head and all its bytes, in order (independent of piece sizes)."""
    merged: list[tuple[int, HttpRequestHead | None, bytes]] = []
    for chunk in chunks:
        if merged and merged[-1][0] == chunk.request_id and chunk.request is None:
            rid, head, data = merged[-1]
            merged[-1] = (rid, head, data + chunk.data)
        else:
            merged.append((chunk.request_id, chunk.request, chunk.data))
    return merged


def test_every_kind_of_body_is_framed_in_one_read() -> None:
    frames = framing(feed_at(STREAM, []))
    assert [head for _, head, _ in frames] == HEADS
    assert [rid for rid, _, _ in frames] == list(range(len(HEADS)))
    assert b"".join(data for _, _, data in frames) == STREAM
    assert frames[2][2].endswith(CHUNKED_BODY)
    assert frames[3][2].startswith(b"\r\nPUT /blob")  # stray CRLF travels with the next head


def test_one_byte_at_a_time_gives_the_same_framing() -> None:
    whole = framing(feed_at(STREAM, []))
    assert framing(feed_at(STREAM, list(range(1, len(STREAM))))) == whole


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=40))
def test_random_split_points_give_the_same_framing(cuts: list[int]) -> None:
    chunks = feed_at(STREAM, cuts)
    assert b"".join(c.data for c in chunks) == STREAM
    assert framing(chunks) == framing(feed_at(STREAM, []))


@st.composite
def chunked_requests(draw: st.DrawFn) -> bytes:
    """A chunked request with random chunk sizes, extensions, trailers and line ends."""
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    out = b"POST /gen HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    for data in draw(st.lists(st.binary(min_size=1, max_size=40), max_size=6)):
        ext = draw(st.sampled_from([b"", b";a=b", b" ;x", b';q="1;2"']))
        out += f"{len(data):x}".encode() + ext + eol + data + eol
    trailers = draw(st.lists(st.sampled_from([b"T: 1", b"Digest: abc"]), max_size=2))
    return out + b"0" + eol + b"".join(t + eol for t in trailers) + eol


@settings(max_examples=200, deadline=None)
@given(chunked_requests(), st.data())
def test_generated_chunked_requests_are_framed_at_any_split(
    request: bytes, data: st.DataObject
) -> None:
    stream = request + GET
    cuts = data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=30))
    frames = framing(feed_at(stream, cuts))
    assert frames == [
        (0, HttpRequestHead("POST", "/gen"), request),
        (1, HttpRequestHead("GET", "/orders/1"), GET),
    ]


@st.composite
def any_request(draw: st.DrawFn) -> tuple[bytes, HttpRequestHead]:
    """One request of a random kind: no body, a Content-Length body or a chunked body."""
    path = "/" + draw(st.text("abc/-_?=&.", max_size=12))
    kind = draw(st.sampled_from(["none", "length", "chunked"]))
    if kind == "chunked":
        request = draw(chunked_requests()).replace(b"POST /gen ", f"PUT {path} ".encode())
        return request, HttpRequestHead("PUT", path)
    body = draw(st.binary(max_size=60)) if kind == "length" else b""
    stray = draw(st.sampled_from([b"", b"\r\n"]))  # an empty line a server ignores
    head = f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n\r\n"
    return stray + head.encode() + body, HttpRequestHead("POST", path)


@settings(max_examples=300, deadline=None)
@given(st.lists(any_request(), min_size=1, max_size=6), st.data())
def test_any_request_stream_is_framed_alike_at_any_split(
    requests: list[tuple[bytes, HttpRequestHead]], data: st.DataObject
) -> None:
    stream = b"".join(request for request, _ in requests)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=40))
    expected = [(rid, head, request) for rid, (request, head) in enumerate(requests)]
    assert framing(feed_at(stream, cuts)) == expected


def test_a_request_head_waits_but_body_bytes_leave_at_once() -> None:
    framer = RequestFramer()
    assert framer.feed(Chunk(CONTINUE[:20], 1.0, 1.0)) == []
    [head] = framer.feed(Chunk(CONTINUE[20:-3], 1.0, 1.0))  # Expect: 100-continue sent alone
    assert head.request == HttpRequestHead("POST", "/big") and head.request_id == 0
    [body] = framer.feed(Chunk(b"xy", 1.0, 1.0))
    assert (body.data, body.request_id, body.request) == (b"xy", 0, None)
    chunked = RequestFramer()
    chunked.feed(Chunk(CHUNKED[: CHUNKED.index(b"\r\n\r\n") + 4], 1.0, 1.0))
    [size_line] = chunked.feed(Chunk(b"3;name=val", 1.0, 1.0))  # an incomplete size line
    assert size_line.data == b"3;name=val" and size_line.request_id == 0


def test_pipelined_requests_in_one_read_each_get_their_head() -> None:
    framer = RequestFramer()
    chunks = framer.feed(Chunk(GET + CHUNKED_SIMPLE + POST, 1.0, 1.0))
    assert [(c.request_id, c.request) for c in chunks if c.request] == [
        (0, HEADS[0]),
        (1, HEADS[3]),
        (2, HEADS[1]),
    ]
    assert framer.requests == 3 and framer.unframed is None


def test_a_whole_body_read_is_forwarded_without_a_copy() -> None:
    framer = RequestFramer()
    framer.feed(Chunk(b"PUT /x HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 1.0, 1.0))
    chunk = Chunk(b"b" * 65536, 1.0, 1.0)
    assert framer.feed(chunk) == [chunk] and chunk.request_id == 0


BAD_STREAMS = [
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, Unframed.NOT_HTTP),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Unframed.NOT_HTTP),
    (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", Unframed.BAD_HEAD),
    (b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", Unframed.BAD_HEAD),
    (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", Unframed.BAD_HEAD),
    (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Unframed.BAD_HEAD),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nzzz", Unframed.TRANSFER_CODING),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", Unframed.BAD_CHUNK),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", Unframed.BAD_CHUNK),
]


@pytest.mark.parametrize(("stream", "reason"), BAD_STREAMS)
def test_unparsable_streams_pass_through_unchanged_with_a_reason(
    stream: bytes, reason: Unframed
) -> None:
    reasons: list[Unframed] = []
    framer = RequestFramer(on_unframed=reasons.append)
    chunks = feed_at(GET + stream + POST, [len(GET) + 3], framer)
    assert b"".join(c.data for c in chunks) == GET + stream + POST
    assert reasons == [reason] and framer.unframed is reason
    assert [c.request for c in chunks if c.request] == [HEADS[0]] + (
        [HttpRequestHead("POST", "/")] if reason is Unframed.BAD_CHUNK else []
    )
    tail = chunks[-1]
    assert tail.data.endswith(POST) and tail.request_id == NO_REQUEST


def test_non_http_bytes_are_never_held(caplog: pytest.LogCaptureFixture) -> None:
    framer = RequestFramer()
    with caplog.at_level(logging.WARNING, logger="ialr.agent"):
        [out] = framer.feed(Chunk(b"\x16\x03\x01", 1.0, 1.0))  # a TLS ClientHello begins
    assert out.data == b"\x16\x03\x01" and out.request_id == NO_REQUEST
    assert "not_http" in caplog.text and "passes through unmatched" in caplog.text
    websocket = RequestFramer()
    upgrade = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    chunks = websocket.feed(Chunk(upgrade, 1.0, 1.0)) + websocket.feed(Chunk(frame, 1.0, 1.0))
    assert [c.data for c in chunks] == [upgrade, frame]
    assert websocket.unframed is Unframed.NOT_HTTP


def test_an_oversized_head_is_released_and_passes_through() -> None:
    framer = RequestFramer()
    huge = b"GET /" + b"a" * MAX_HEAD
    assert framer.feed(Chunk(huge[:1000], 1.0, 1.0)) == []
    [out] = framer.feed(Chunk(huge[1000:], 1.0, 1.0))
    assert out.data == huge and framer.unframed is Unframed.HEAD_TOO_LARGE


def test_a_failing_callback_does_not_break_framing(caplog: pytest.LogCaptureFixture) -> None:
    def explode(reason: Unframed) -> None:
        raise RuntimeError("counter broken")

    framer = RequestFramer(on_unframed=explode)
    with caplog.at_level(logging.ERROR, logger="ialr.agent"):
        [out] = framer.feed(Chunk(b"\x00\x01", 1.0, 1.0))
    assert out.data == b"\x00\x01" and "callback failed" in caplog.text


def test_an_incomplete_head_is_released_by_flush() -> None:
    framer = RequestFramer()
    assert framer.feed(Chunk(b"GET / HT", 1.0, 1.0)) == []
    [held] = framer.flush(2.0)
    assert held.data == b"GET / HT"
    assert framer.flush(3.0) == []


def test_parse_head_reads_method_path_and_body_framing() -> None:
    parsed = parse_head(POST[: POST.index(b"\r\n\r\n") + 4])
    assert not isinstance(parsed, Unframed)
    assert parsed[0] == HttpRequestHead("POST", "/pay")
    assert parsed[1].take(b"hello, world", 0) == 5 and parsed[1].done
    same_twice = parse_head(b"GET / HTTP/1.1\r\nContent-Length: 4, 4\r\n\r\n")
    assert not isinstance(same_twice, Unframed) and same_twice[1].take(b"abcdef", 0) == 4
    assert request_line(b"GET http://h/a/b?q=1 HTTP/1.1") == HttpRequestHead("GET", "/a/b")
    assert request_line(b"OPTIONS * HTTP/1.1") == HttpRequestHead("OPTIONS", "*")
    assert request_line(b"NOT HTTP") is None
    assert request_line(b"GET / HTTP/2.0") is None
    assert request_line(b"GET  / HTTP/1.1") is None
