"""Where each HTTP/1.1 response ends in a server → client stream (helpers, not a toxic).

``http_abort`` answers a request itself; on a pipelined connection its answer must wait until
the server has answered every request sent before it. :class:`ResponseFramer` follows the
responses as their bytes pass — never holding any — and reports the end of each final
response. Interim ``1xx`` responses end nothing; ``HEAD`` requests and ``204``/``304``
answers have no body (RFC 9112 §6.3).

Responses it cannot follow raise :class:`ResponseFramingError`: a body delimited by the
connection closing (no ``Content-Length``, no chunked coding), a tunnel (``101 Switching
Protocols``, a ``2xx`` to ``CONNECT``), or bytes that are not an HTTP/1.x response.
"""

from __future__ import annotations

import re
from typing import Protocol

from ial_resilience.faults.toxics.http_body import (
    HEAD_END,
    MAX_HEAD,
    BodyFramingError,
    BodyWalker,
    ChunkedBody,
    LengthBody,
    header_fields,
    length_body,
)

_STATUS_LINE = re.compile(rb"HTTP/1\.[0-9] ([0-9]{3})(?: .*)?")
_PREFIX = b"HTTP/1."
_NO_BODY = (204, 304)


class ResponseFramingError(ValueError):
    """The response stream cannot be followed any further."""


class ResponseEvents(Protocol):
    """What a :class:`ResponseFramer` tells about the responses it follows."""

    def next_method(self) -> str | None:
        """The method of the oldest request not answered yet (None when unknown)."""

    def started(self, offset: int) -> None:
        """A response head begins at ``offset`` of the bytes being fed."""

    def finished(self, offset: int) -> None:
        """A final response ends just before ``offset`` of the bytes being fed."""


class ResponseFramer:
    """Stateful follower of one connection's responses (one thread uses it)."""

    def __init__(self, events: ResponseEvents) -> None:
        self._events = events
        self._head = bytearray()  # a copy of the response head seen so far (bytes pass on)
        self._body: BodyWalker | None = None

    def feed(self, data: bytes) -> None:
        """Follow ``data``, reporting each response's start and end through the events.

        A response to ``HEAD`` has no body, one to ``CONNECT`` opens a tunnel: the method
        comes from ``events.next_method()`` when a final response head is complete.
        """
        pos = 0
        while pos < len(data):
            if self._body is None:
                pos = self._take_head(data, pos)
                continue
            try:
                pos += self._body.take(data, pos)
            except BodyFramingError as exc:
                raise ResponseFramingError(str(exc)) from exc
            if self._body.done:
                self._body = None
                self._events.finished(pos)

    def _take_head(self, data: bytes, pos: int) -> int:
        held = len(self._head)
        if not held:
            self._events.started(pos)
            found = HEAD_END.search(data, pos)  # the head starts here: look for its end in place
            if found is not None:
                self._head_done(data[pos : found.end()], found.end())
                return found.end()
        self._head += data[pos:]
        found = HEAD_END.search(self._head, max(0, held - 2))
        if found is None:
            start = bytes(self._head[: len(_PREFIX)])
            if not _PREFIX.startswith(start) or len(self._head) > MAX_HEAD:
                raise ResponseFramingError(f"not an HTTP/1.x response head: {start!r}")
            return len(data)
        head, self._head = bytes(self._head[: found.end()]), bytearray()
        used = pos + found.end() - held
        self._head_done(head, used)
        return used

    def _head_done(self, head: bytes, used: int) -> None:
        """A whole head ending at offset ``used`` of the bytes fed: expect its body."""
        body = _body_of(head, self._events)
        if body is not None and body.done:
            self._events.finished(used)
        elif body is not None:
            self._body = body


def _body_of(head: bytes, events: ResponseEvents) -> BodyWalker | None:
    """The body walker of a final response (done at once when it has none); None: interim."""
    eol = head.find(b"\n")
    matched = _STATUS_LINE.fullmatch(head[:eol].removesuffix(b"\r"))
    fields = header_fields(head[eol + 1 :])
    if matched is None or fields is None:
        raise ResponseFramingError(f"a malformed response head: {head[:60]!r}")
    status = int(matched.group(1))
    if status == 101:
        raise ResponseFramingError("the connection switched protocols (101)")
    if status < 200:
        return None
    method = events.next_method()
    if method == "CONNECT" and status < 300:
        raise ResponseFramingError("the connection became a CONNECT tunnel")
    if method == "HEAD" or status in _NO_BODY:
        return LengthBody(0)
    lengths, codings = fields
    if codings:
        if codings[-1] == b"chunked":
            return ChunkedBody()
        raise ResponseFramingError("a response body that ends when the connection closes")
    body = length_body(lengths) if lengths else None
    if body is None:
        raise ResponseFramingError("a response body without a usable Content-Length")
    return body
