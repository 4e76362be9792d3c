"""Small explicit instrumentation so one trace crosses services: Starlette, httpx, psycopg.

The OpenTelemetry contrib packages for these pin other versions of the OpenTelemetry API than
the SDK this project uses, so the three hooks are written here (W3C ``traceparent`` through
the global propagator, semantic-convention attribute names):

- :class:`TracingMiddleware`: ASGI middleware; a SERVER span per request, context extracted
  from the request headers, 5xx marks the span as an error;
- :class:`TracingTransport` / :func:`traced_client`: an httpx transport making a CLIENT span
  per request and injecting the context into the request headers;
- :func:`traced_connect` / :class:`TracedCursor`: psycopg connections whose every
  ``execute`` runs in a CLIENT span with ``db.system = postgresql``.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from ial_resilience.observability.tracing import tracer

Scope = dict[str, Any]


class TracingMiddleware:
    """ASGI middleware: ``Starlette(middleware=[Middleware(TracingMiddleware)])``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        attributes = {"http.request.method": method, "url.path": path}
        with tracer().start_as_current_span(
            f"{method} {path}",
            context=propagate.extract(headers),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:

            async def send_traced(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
                await send(message)

            await self.app(scope, receive, send_traced)


def _client_span(request: httpx.Request) -> Any:
    return tracer().start_as_current_span(
        f"{request.method}",
        kind=SpanKind.CLIENT,
        attributes={
            "http.request.method": request.method,
            "url.full": str(request.url),
            "server.address": request.url.host,
        },
    )


def _finish(span: Any, response: httpx.Response) -> None:
    span.set_attribute("http.response.status_code", response.status_code)
    if response.status_code >= 500:
        span.set_status(Status(StatusCode.ERROR, f"HTTP {response.status_code}"))


class TracingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with _client_span(request) as span:
            propagate.inject(request.headers)
            response = self.inner.handle_request(request)
            _finish(span, response)
            return response

    def close(self) -> None:
        self.inner.close()


class AsyncTracingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _client_span(request) as span:
            propagate.inject(request.headers)
            response = await self.inner.handle_async_request(request)
            _finish(span, response)
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def traced_client(**kwargs: Any) -> httpx.Client:
    """``httpx.Client(**kwargs)`` whose requests are traced and carry the context."""
    return httpx.Client(transport=TracingTransport(kwargs.pop("transport", None)), **kwargs)


def traced_async_client(**kwargs: Any) -> httpx.AsyncClient:
    transport = AsyncTracingTransport(kwargs.pop("transport", None))
    return httpx.AsyncClient(transport=transport, **kwargs)


class TracedCursor(psycopg.Cursor[Any]):
    """A psycopg cursor whose ``execute`` runs in a CLIENT span."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        statement = query if isinstance(query, str) else repr(query)
        info = self.connection.info
        with tracer().start_as_current_span(
            statement.split(None, 1)[0].upper() if statement.strip() else "SQL",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": "postgresql",
                "db.statement": statement[:2000],
                "db.name": info.dbname,
                "server.address": info.host,
                "server.port": info.port,
            },
        ):
            return super().execute(query, params, **kwargs)


def traced_connect(conninfo: str = "", **kwargs: Any) -> psycopg.Connection[Any]:
    """``psycopg.connect`` with :class:`TracedCursor` for every query."""
    return psycopg.connect(conninfo, cursor_factory=TracedCursor, **kwargs)
