"""Where an HTTP/1.1 message body ends, found while its bytes pass (helpers, not a toxic).

Used by the request framer of HTTP-aware links and by ``http_abort``'s response tracking.
Besides "until the connection closes", a body is framed (RFC 9112 §6) by a
``Content-Length`` count or by the ``chunked`` transfer coding: chunk-size lines in hex (with
optional ``;name=value`` extensions), each chunk's data followed by CRLF, a terminating ``0``
chunk, then a trailer section ended by an empty line. A walker never holds bytes:
:meth:`BodyWalker.take` says how many of the bytes offered belong to the body, and only a
chunk-size or trailer line that is still incomplete is remembered (bounded) to be parsed when
its end arrives.

Line ends are CRLF; a bare LF is accepted as well, as line-reading servers do. Anything else
raises :class:`BodyFramingError`: the caller then stops framing the connection.
"""

from __future__ import annotations

import re
from enum import Enum

MAX_LINE = 16 * 1024  # a chunk-size line (with extensions) or one trailer line
MAX_TRAILERS = 64 * 1024  # the whole trailer section
_HEX = frozenset(b"0123456789abcdefABCDEF")
TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
HEAD_END = re.compile(rb"\n\r?\n")  # the empty line that ends a head (CRLF or bare LF)
MAX_HEAD = 64 * 1024  # a request or response head longer than this is not HTTP we frame
TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_FIELD_SECTION = re.compile(rb"(?:" + TOKEN + rb":[^\r\n]*\r?\n)*\r?\n")
_FRAMING_FIELD = re.compile(
    rb"^(content-length|transfer-encoding):([^\r\n]*)", re.IGNORECASE | re.MULTILINE
)
_MAX_HEX_DIGITS = 16
_SIZE_LINE = re.compile(rb"([0-9a-fA-F]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


class BodyFramingError(ValueError):
    """The body does not follow its framing; the rest of the stream cannot be framed."""


class BodyWalker:
    """Follows one request body. ``done`` turns True once its last byte has been taken."""

    done: bool

    def take(self, data: bytes, start: int) -> int:
        """How many bytes of ``data[start:]`` belong to the body (it may end inside them)."""
        raise NotImplementedError


class LengthBody(BodyWalker):
    """A body of exactly ``length`` bytes (``Content-Length``; 0 for a request without one)."""

    def __init__(self, length: int) -> None:
        self._left = length
        self.done = length == 0

    def take(self, data: bytes, start: int) -> int:
        size = min(self._left, len(data) - start)
        self._left -= size
        self.done = self._left == 0
        return size


class _Part(Enum):
    SIZE_LINE = "size line"
    DATA = "chunk data"
    DATA_END = "CRLF after chunk data"
    TRAILER = "trailer section"


class ChunkedBody(BodyWalker):
    """A ``Transfer-Encoding: chunked`` body, walked byte-exactly across any read boundaries."""

    def __init__(self) -> None:
        self.done = False
        self._part = _Part.SIZE_LINE
        self._line = bytearray()  # the incomplete size or trailer line seen so far
        self._left = 0  # bytes of chunk data still to come
        self._cr = False  # DATA_END: the CR has been seen, the LF is next
        self._trailer_bytes = 0

    def take(self, data: bytes, start: int) -> int:
        pos = start
        while pos < len(data) and not self.done:
            part = self._part
            if part is _Part.DATA:
                size = min(self._left, len(data) - pos)
                self._left -= size
                pos += size
                if self._left == 0:
                    self._part = _Part.DATA_END
            elif part is _Part.DATA_END and not self._cr and data.startswith(b"\r\n", pos):
                pos += 2  # the usual case, in one go
                self._part = _Part.SIZE_LINE
            elif part is _Part.DATA_END:
                pos = self._data_end(data, pos)
            elif (
                part is _Part.SIZE_LINE
                and not self._line
                and (whole := _SIZE_LINE.match(data, pos))
            ):
                self._sized(int(whole.group(1), 16))  # a whole usual size line: no copy
                pos = whole.end()
            else:
                pos = self._line_part(data, pos)
        return pos - start

    def _data_end(self, data: bytes, pos: int) -> int:
        byte = data[pos]
        if byte == 0x0D and not self._cr:
            self._cr = True
        elif byte == 0x0A:
            self._cr = False
            self._part = _Part.SIZE_LINE
        else:
            raise BodyFramingError(f"expected CRLF after chunk data, found byte {byte:#04x}")
        return pos + 1

    def _line_part(self, data: bytes, pos: int) -> int:
        end = data.find(b"\n", pos)
        stop = len(data) if end < 0 else end + 1
        self._line += data[pos:stop]
        if len(self._line) > MAX_LINE:
            raise BodyFramingError(f"a {self._part.value} longer than {MAX_LINE} bytes")
        if end >= 0:
            line, self._line = bytes(self._line[:-1]).removesuffix(b"\r"), bytearray()
            if self._part is _Part.SIZE_LINE:
                self._sized(chunk_size(line))
            else:
                self._trailer_line(line, stop - pos)
        return stop

    def _sized(self, size: int) -> None:
        if size == 0:
            self._part = _Part.TRAILER
        else:
            self._left = size
            self._part = _Part.DATA

    def _trailer_line(self, line: bytes, length: int) -> None:
        self._trailer_bytes += length
        if not line:
            self.done = True
        elif self._trailer_bytes > MAX_TRAILERS:
            raise BodyFramingError(f"a trailer section longer than {MAX_TRAILERS} bytes")
        elif b":" not in line or line[:1] in (b" ", b"\t"):
            raise BodyFramingError(f"a trailer line that is not a field: {line[:40]!r}")


def chunk_size(line: bytes) -> int:
    """The size from a chunk-size line without its line end: ``1a;ext=v`` → 26."""
    digits = line.split(b";", 1)[0].rstrip(b" \t")
    if not digits or len(digits) > _MAX_HEX_DIGITS or not set(digits) <= _HEX:
        raise BodyFramingError(f"a chunk-size line that is not hex: {line[:40]!r}")
    return int(digits, 16)


def header_fields(block: bytes) -> tuple[set[bytes], list[bytes]] | None:
    """The ``Content-Length`` values and transfer codings of a head's field section (the bytes
    after the start line, through the empty line); None when a line is not a field (no
    colon, a bad name, an obs-fold continuation line)."""
    if _FIELD_SECTION.fullmatch(block) is None:
        return None
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    for name, value in _FRAMING_FIELD.findall(block):
        items = [item.strip(b" \t") for item in value.split(b",")]
        if name.lower() == b"content-length":
            lengths.update(items)
        else:
            codings += [item.lower() for item in items if item]
    return lengths, codings


def length_body(lengths: set[bytes]) -> LengthBody | None:
    """The body of one agreed ``Content-Length``; None when the values are bad or differ."""
    if len(lengths) != 1:
        return None
    (length,) = lengths
    return LengthBody(int(length)) if length.isdigit() else None
