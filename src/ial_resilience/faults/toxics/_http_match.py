"""Matching HTTP requests for the ``http_abort`` and ``http_delay`` toxics."""

from __future__ import annotations

import random
from http import HTTPStatus

from ial_resilience.faults.toxics._spec import Attr
from ial_resilience.faults.toxics._stage import HttpRequestHead

MATCH_ATTRIBUTES = {
    "percentage": Attr("a percentage in [0, 100]", default=100.0, minimum=0, maximum=100),
    "method": Attr("an HTTP method such as 'GET'", text=True, optional=True),
    "path": Attr("a path prefix such as '/orders'", text=True, optional=True),
}


class RequestMatcher:
    """Decides, per request, whether a toxic applies: method, path prefix, then the dice."""

    def __init__(self, method: str | None, path: str | None, percentage: float) -> None:
        self._method = method.upper() if method else None
        self._path = path
        self._share = percentage / 100.0
        self._rng = random.Random()

    def hits(self, head: HttpRequestHead) -> bool:
        if self._method is not None and head.method.upper() != self._method:
            return False
        if self._path is not None and not head.path.startswith(self._path):
            return False
        return self._share >= 1.0 or self._rng.random() < self._share


def status_response(status: int) -> bytes:
    """A complete HTTP/1.1 response with that status and a short JSON body."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Injected"
    body = b"" if status < 200 or status in (204, 304) else b'{"error": "injected by ialr"}'
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Ialr-Fault: http_abort\r\n\r\n"
    )
    return head.encode("ascii") + body
