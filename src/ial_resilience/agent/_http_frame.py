"""Framing of the client → server byte stream into HTTP/1.1 requests, for HTTP-aware links.

Requests with a ``Content-Length`` body (or none) over keep-alive connections are framed: the
first chunk of each request carries its method and path, every chunk its request id, so the
``http_abort`` / ``http_delay`` stages can act on whole requests. A request with a
``Transfer-Encoding`` (chunked) body, an oversized or unparsable head switches the connection
to pass-through: its bytes are forwarded unmatched from then on.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ial_resilience.faults.toxics._stage import Chunk, HttpRequestHead

MAX_HEAD = 64 * 1024


class RequestFramer:
    """Stateful splitter of one connection's request stream (one thread uses it)."""

    def __init__(self) -> None:
        self._head = b""  # bytes of a request head not yet complete
        self._body_left = 0
        self._request_id = -1
        self._passthrough = False

    def feed(self, chunk: Chunk) -> list[Chunk]:
        if self._passthrough:
            chunk.request_id = -1
            return [chunk]
        out: list[Chunk] = []
        data = chunk.data
        while data and not self._passthrough:
            if self._body_left:
                body, data = data[: self._body_left], data[self._body_left :]
                self._body_left -= len(body)
                out.append(self._piece(chunk, body))
            else:
                data = self._take_head(chunk, data, out)
        if data:
            out.append(self._piece(chunk, data))
        return out

    def flush(self, arrival: float) -> list[Chunk]:
        """Bytes of an incomplete head, released as they are (end of stream, toxic removed)."""
        if not self._head:
            return []
        held, self._head = self._head, b""
        return [Chunk(held, arrival, arrival)]

    def _take_head(self, chunk: Chunk, data: bytes, out: list[Chunk]) -> bytes:
        buffered = (self._head + data).lstrip(b"\r\n")
        end = buffered.find(b"\r\n\r\n")
        if end < 0:
            if len(buffered) > MAX_HEAD:
                self._passthrough = True
                out.append(self._piece(chunk, buffered))
                self._head = b""
            else:
                self._head = buffered
            return b""
        self._head = b""
        head, rest = buffered[: end + 4], buffered[end + 4 :]
        parsed = parse_head(head)
        if parsed is None:
            self._passthrough = True
            out.append(self._piece(chunk, head))
            return rest
        request, self._body_left = parsed
        self._request_id += 1
        first = self._piece(chunk, head)
        first.request = request
        out.append(first)
        return rest

    def _piece(self, chunk: Chunk, data: bytes) -> Chunk:
        piece = chunk.split(data, chunk.due)
        piece.request_id = -1 if self._passthrough else self._request_id
        return piece


def parse_head(head: bytes) -> tuple[HttpRequestHead, int] | None:
    """Method, path and body length of a request head; None when it cannot be framed."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "transfer-encoding":
            return None
        if name == "content-length":
            if not value.strip().isdigit():
                return None
            length = int(value.strip())
    target = parts[1]
    path = urlsplit(target).path or "/" if "://" in target else target
    return HttpRequestHead(parts[0], path), length
