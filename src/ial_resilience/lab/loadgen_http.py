"""A minimal HTTP/1.1 client on asyncio streams, for the load generator.

Why not httpx: at hundreds of requests per second on two shared cores, every microsecond the
event loop spends parsing is a microsecond of send-time skew for the next scheduled request.
This client does only what the load generator needs: keep-alive connections to one host, a
request with an optional JSON body, the status code, and a body read by ``Content-Length``,
``chunked`` encoding or until the server closes. A reused keep-alive connection that the
server had closed meanwhile (nothing received) is retried once on a fresh connection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


class HttpProtocolError(Exception):
    """The server answered something that is not HTTP/1.x."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    keep_alive: bool
    body_bytes: int


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def build_request(method: str, path: str, host: str, body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: ialr-loadgen"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    elif method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


def parse_head(head: bytes) -> tuple[int, dict[bytes, bytes]]:
    """Status code and lower-cased headers of a response head (ending with a blank line)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_chunked(reader: asyncio.StreamReader) -> int:
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return total
        await reader.readexactly(size + 2)
        total += size


async def read_response(reader: asyncio.StreamReader, method: str) -> Response:
    """Read one response; the body is consumed and counted, not kept."""
    head = await reader.readuntil(b"\r\n\r\n")
    status, headers = parse_head(head)
    keep_alive = headers.get(b"connection", b"").lower() != b"close"
    if method == "HEAD" or status in _NO_BODY_STATUSES or 100 <= status < 200:
        return Response(status, keep_alive, 0)
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return Response(status, keep_alive, await _read_chunked(reader))
    length = headers.get(b"content-length")
    if length is not None:
        size = int(length)
        await reader.readexactly(size)
        return Response(status, keep_alive, size)
    rest = await reader.read()
    return Response(status, False, len(rest))


class HttpPool:
    """Keep-alive connections to one ``host:port``; opens more when all are busy."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Conn] = []
        self.opened = 0

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD)
        self.opened += 1
        return reader, writer

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        """One request; raises ``OSError``/``asyncio.IncompleteReadError``/``HttpProtocolError``.

        Cancelling it (a timeout) closes the connection it used.
        """
        payload = build_request(method, path, f"{self.host}:{self.port}", body)
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else await self._connect()
        try:
            response = await self._exchange(conn, payload, method)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            _close(conn)
            nothing_received = not isinstance(error, asyncio.IncompleteReadError) or (
                not error.partial
            )
            if not (reused and nothing_received):
                raise
            conn = await self._connect()  # the server closed an idle keep-alive connection
            try:
                response = await self._exchange(conn, payload, method)
            except BaseException:
                _close(conn)
                raise
        except BaseException:
            _close(conn)
            raise
        if response.keep_alive:
            self._idle.append(conn)
        else:
            _close(conn)
        return response

    @staticmethod
    async def _exchange(conn: _Conn, payload: bytes, method: str) -> Response:
        reader, writer = conn
        writer.write(payload)
        await writer.drain()
        return await read_response(reader, method)

    def close(self) -> None:
        while self._idle:
            _close(self._idle.pop())


def _close(conn: _Conn) -> None:
    writer = conn[1]
    if not writer.is_closing():
        writer.close()
