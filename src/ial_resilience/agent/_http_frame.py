"""Framing of the client → server byte stream into HTTP/1.1 requests, for HTTP-aware links.

Every request of a keep-alive connection is framed, whatever its body: none, a
``Content-Length`` body, or a ``Transfer-Encoding: chunked`` body (chunk extensions, trailers,
the terminating 0-chunk; see :mod:`ial_resilience.faults.toxics.http_body`). The first piece
of each request carries its method and path, every piece its request id, so the
``http_abort`` / ``http_delay`` stages act on whole requests. Pipelined requests (several in
one read) and requests split across any read boundaries — one byte at a time included — are
framed the same way. Only a request head is held until it is complete (at most
:data:`MAX_HEAD` bytes); body bytes leave at once, so ``Expect: 100-continue`` works (the
head goes on, the body follows the server's ``100 Continue``).

A stream that cannot be framed switches the connection to pass-through: its bytes go on
unchanged and unmatched (request id -1) from then on, and the framer reports why once
(:class:`Unframed`, through ``on_unframed`` and a warning on the ``ialr.agent`` log). That
happens for a request line that is not HTTP/1.x (TLS or HTTP/2 sent to an HTTP link, the
tunnel after an accepted ``CONNECT`` or ``Upgrade``: detected from the first bytes, never
held), a malformed header section, a head larger than :data:`MAX_HEAD`, a transfer coding
other than chunked, or a malformed chunked body. The framer never alters, drops or reorders
bytes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from enum import StrEnum
from urllib.parse import urlsplit

from ial_resilience.faults.toxics._stage import Chunk, HttpRequestHead
from ial_resilience.faults.toxics.http_body import (
    HEAD_END,
    MAX_HEAD,
    TCHAR,
    TOKEN,
    BodyFramingError,
    BodyWalker,
    ChunkedBody,
    LengthBody,
    header_fields,
    length_body,
)

NO_REQUEST = -1  # request id of bytes that belong to no framed request
_MAX_METHOD = 32
_REQUEST_LINE = re.compile(b"(" + TOKEN + rb") ([^ \t\r\n]+) HTTP/1\.[0-9]")
_STRAY = re.compile(rb"[\r\n]*")  # empty lines a server ignores before a request line
_log = logging.getLogger("ialr.agent")


class Unframed(StrEnum):
    """Why a connection stopped being framed; its later requests pass through unmatched."""

    NOT_HTTP = "not_http"  # the request line is not HTTP/1.x (TLS, HTTP/2, a tunnel)
    BAD_HEAD = "bad_head"  # malformed header section or Content-Length
    HEAD_TOO_LARGE = "head_too_large"  # no end of head within MAX_HEAD bytes
    TRANSFER_CODING = "transfer_coding"  # Transfer-Encoding whose last coding is not chunked
    BAD_CHUNK = "bad_chunk"  # malformed chunked body


class RequestFramer:
    """Stateful splitter of one connection's request stream (one thread uses it)."""

    def __init__(self, on_unframed: Callable[[Unframed], None] | None = None) -> None:
        self._head = bytearray()  # bytes of a request head not yet complete
        self._start = 0  # where the request line begins in _head (after stray CR/LF)
        self._line_checked = False  # the request line of _head is complete and valid
        self._body: BodyWalker | None = None  # None: the next bytes start a head
        self._request_id = NO_REQUEST
        self._on_unframed = on_unframed
        self.unframed: Unframed | None = None

    @property
    def requests(self) -> int:
        """Requests framed so far on this connection."""
        return self._request_id + 1

    def feed(self, chunk: Chunk) -> list[Chunk]:
        """Pieces of ``chunk`` (same bytes, same order) tagged with their request."""
        if self.unframed is not None:
            chunk.request_id = NO_REQUEST
            return [chunk]
        out: list[Chunk] = []
        data, pos = chunk.data, 0
        while pos < len(data) and self.unframed is None:
            if self._body is not None:
                pos = self._take_body(chunk, pos, out)
            else:
                pos = self._take_head(chunk, pos, out)
        if pos < len(data):
            out.append(self._piece(chunk, data[pos:]))
        return out

    def flush(self, arrival: float) -> list[Chunk]:
        """Bytes of an incomplete head, released as they are (end of stream)."""
        if not self._head:
            return []
        held = bytes(self._head)
        self._reset_head()
        return [Chunk(held, arrival, arrival)]

    # body -----------------------------------------------------------------------------
    def _take_body(self, chunk: Chunk, pos: int, out: list[Chunk]) -> int:
        assert self._body is not None
        try:
            size = self._body.take(chunk.data, pos)
        except BodyFramingError as exc:
            self._stop(Unframed.BAD_CHUNK, str(exc))
            return pos
        if size:
            out.append(self._piece(chunk, _part(chunk.data, pos, pos + size)))
        if self._body.done:
            self._body = None
        return pos + size

    # head -----------------------------------------------------------------------------
    def _take_head(self, chunk: Chunk, pos: int, out: list[Chunk]) -> int:
        data = chunk.data
        if not self._head:  # the head starts in this read: look for its end in place
            start = _after_stray(data, pos)
            found = HEAD_END.search(data, start)
            if found is not None:
                self._complete_head(chunk, data[pos : found.end()], start - pos, out)
                return found.end()
            self._start = start - pos
            self._head += data[pos:]
            return self._wait_for_head(chunk, out, len(data))
        held = len(self._head)
        if held == self._start:  # only stray CR/LF so far: they stay with the next head
            self._start += _after_stray(data, pos) - pos
        self._head += data[pos:]
        found = HEAD_END.search(self._head, max(self._start, held - 2))
        if found is None:
            return self._wait_for_head(chunk, out, len(data))
        head, start = bytes(self._head[: found.end()]), self._start
        self._reset_head()
        self._complete_head(chunk, head, start, out)
        return pos + found.end() - held

    def _complete_head(self, chunk: Chunk, head: bytes, start: int, out: list[Chunk]) -> None:
        """A whole head (request line at ``start``, after stray CR/LF): frame its request."""
        parsed = parse_head(head[start:])
        if isinstance(parsed, Unframed):
            self._stop(parsed, f"request head {head[:60]!r}")
            out.append(self._piece(chunk, head))
            return
        request, body = parsed
        self._request_id += 1
        first = self._piece(chunk, head)
        first.request = request
        out.append(first)
        self._body = None if body.done else body

    def _wait_for_head(self, chunk: Chunk, out: list[Chunk], consumed: int) -> int:
        reason = self._implausible()
        if reason is None and len(self._head) > MAX_HEAD:
            reason = Unframed.HEAD_TOO_LARGE
        if reason is not None:
            head = bytes(self._head)
            self._reset_head()
            self._stop(reason, f"request head {head[:60]!r}")
            out.append(self._piece(chunk, head))
        return consumed

    def _implausible(self) -> Unframed | None:
        """NOT_HTTP as soon as the first bytes cannot start an HTTP/1.x request line."""
        if self._line_checked:
            return None
        start = self._start
        prefix = bytes(self._head[start : start + _MAX_METHOD + 1])
        method = prefix.split(b" ", 1)[0]
        if len(method) > _MAX_METHOD or not set(method) <= TCHAR:
            return Unframed.NOT_HTTP
        line_end = self._head.find(b"\n", start)
        if line_end < 0:
            return None
        if request_line(bytes(self._head[start:line_end]).removesuffix(b"\r")) is None:
            return Unframed.NOT_HTTP
        self._line_checked = True
        return None

    def _reset_head(self) -> None:
        self._head = bytearray()
        self._start = 0
        self._line_checked = False

    # pieces and pass-through ----------------------------------------------------------
    def _piece(self, chunk: Chunk, data: bytes) -> Chunk:
        piece = chunk if data is chunk.data else chunk.split(data, chunk.due)
        piece.request_id = NO_REQUEST if self.unframed is not None else self._request_id
        return piece

    def _stop(self, reason: Unframed, detail: str) -> None:
        self.unframed = reason
        self._body = None
        _log.warning(
            "HTTP link: cannot frame the request stream after %d request(s) (%s: %s); the rest"
            " of this connection passes through unmatched by http toxics",
            self.requests,
            reason.value,
            detail,
        )
        if self._on_unframed is not None:
            try:
                self._on_unframed(reason)
            except Exception:  # a counter must never break the relay
                _log.exception("HTTP link: the unframed-stream callback failed")


def _after_stray(data: bytes, pos: int) -> int:
    match = _STRAY.match(data, pos)
    return match.end() if match else pos


def _part(data: bytes, start: int, stop: int) -> bytes:
    return data if start == 0 and stop == len(data) else data[start:stop]


def request_line(line: bytes) -> HttpRequestHead | None:
    """Method and path of ``METHOD SP target SP HTTP/1.x``; None when it is not one."""
    matched = _REQUEST_LINE.fullmatch(line)
    if matched is None:
        return None
    method, target = matched.group(1, 2)
    text = target.decode("latin-1")
    path = (urlsplit(text).path or "/") if "://" in text else text
    return HttpRequestHead(method.decode("ascii"), path)


def parse_head(head: bytes) -> tuple[HttpRequestHead, BodyWalker] | Unframed:
    """The request line and body framing of a complete head (request line first)."""
    eol = head.find(b"\n")
    request = request_line(head[:eol].removesuffix(b"\r"))
    if request is None:
        return Unframed.NOT_HTTP
    fields = header_fields(head[eol + 1 :])
    if fields is None:
        return Unframed.BAD_HEAD
    lengths, codings = fields
    if codings:  # Transfer-Encoding overrides Content-Length (RFC 9112 §6.3)
        if codings[-1] != b"chunked":
            return Unframed.TRANSFER_CODING
        return request, ChunkedBody()
    body = length_body(lengths) if lengths else LengthBody(0)
    return Unframed.BAD_HEAD if body is None else (request, body)
