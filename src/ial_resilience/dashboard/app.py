"""The dashboard's Starlette app: GET routes only (read-only), HTML pages and ``/api`` JSON.

==========================  ===============================================================
``/chaos``, ``/api/runs``   runs, newest first (``?kind=chaos_run``, ``?limit=N``, ≤ 2000)
``/chaos/run/{id}``,        one run: its figures and, from its journal, the timeline
``/api/runs/{id}``
``/score``, ``/api/score``  the resilience score, its parts, formula and trend
``/insights``,              the analyzer's recommendations, regressions and change points,
``/api/insights``           and the KPI scorecard
``/api/ping``               a static answer (the benchmarks' baseline)
==========================  ===============================================================

Every answer carries ``Server-Timing: app;dur=<ms>`` (time spent in the handler). A store
that cannot be read (``StoreError``) answers 503 with the store's message and hint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ial_resilience.dashboard import model, render
from ial_resilience.dashboard.source import DashboardData, Snapshot
from ial_resilience.errors import StoreError

MAX_LIMIT = 2000
Handler = Callable[[Request, Snapshot], Response]


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(model.RUNS_SHOWN))
    try:
        return max(0, min(MAX_LIMIT, int(raw)))
    except ValueError:
        return model.RUNS_SHOWN


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def build_app(
    data: DashboardData, allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS
) -> Starlette:
    """The app; ``allowed_hosts`` (``None``: any) guards a loopback dashboard against DNS
    rebinding: a page elsewhere cannot read it through a name that resolves to 127.0.0.1."""
    source = str(data.path)

    def serve(handler: Handler, *, html: bool) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            began = time.perf_counter()
            try:
                snapshot = data.snapshot()
                response = handler(request, snapshot)
                if snapshot.stale:
                    response = _marked_stale(response, html=html)
            except StoreError as exc:
                if html:
                    body = render.error_page(exc.message, exc.hint, source)
                    response = HTMLResponse(body, status_code=503)
                else:
                    error = {"error": exc.message, "hint": exc.hint}
                    response = JSONResponse(error, status_code=503)
            _timed(response, began)
            return response

        return endpoint

    def runs(request: Request, snap: Snapshot) -> dict[str, Any]:
        kind = request.query_params.get("kind") or None
        return model.runs_view(snap.records, kind=kind, limit=_limit(request))

    def one_run(
        request: Request, snap: Snapshot
    ) -> tuple[dict[str, Any], model.RunTimeline | None] | None:
        record = snap.by_id.get(request.path_params["run_id"])
        if record is None:
            return None
        return model.run_view(record, snap.children.get(record.id, ()))

    def not_found(request: Request, html: bool) -> Response:
        run_id = request.path_params["run_id"]
        message = f"no run {run_id!r} in the history"
        if html:
            return HTMLResponse(render.error_page(message, "see /chaos", source), 404)
        return JSONResponse({"error": message, "hint": "GET /api/runs lists them"}, 404)

    def chaos_html(request: Request, snap: Snapshot) -> Response:
        return HTMLResponse(render.chaos_page(runs(request, snap), source))

    def chaos_json(request: Request, snap: Snapshot) -> Response:
        return JSONResponse(runs(request, snap))

    def run_html(request: Request, snap: Snapshot) -> Response:
        found = one_run(request, snap)
        if found is None:
            return not_found(request, True)
        return HTMLResponse(render.run_page(found[0], found[1], source))

    def run_json(request: Request, snap: Snapshot) -> Response:
        found = one_run(request, snap)
        return not_found(request, False) if found is None else JSONResponse(found[0])

    def score_html(request: Request, snap: Snapshot) -> Response:
        return HTMLResponse(render.score_page(snap.score, source))

    def score_json(request: Request, snap: Snapshot) -> Response:
        return JSONResponse(snap.score)

    def insights_html(request: Request, snap: Snapshot) -> Response:
        return HTMLResponse(render.insights_page(snap.insights, source))

    def insights_json(request: Request, snap: Snapshot) -> Response:
        return JSONResponse(snap.insights)

    def ping(request: Request) -> Response:
        began = time.perf_counter()
        return _timed(JSONResponse({"ok": True}), began)

    def home(request: Request) -> Response:
        return RedirectResponse("/chaos", status_code=303)

    get = ["GET"]
    routes = [
        Route("/", home, methods=get),
        Route("/chaos", serve(chaos_html, html=True), methods=get),
        Route("/chaos/run/{run_id:path}", serve(run_html, html=True), methods=get),
        Route("/score", serve(score_html, html=True), methods=get),
        Route("/insights", serve(insights_html, html=True), methods=get),
        Route("/api/runs", serve(chaos_json, html=False), methods=get),
        Route("/api/runs/{run_id:path}", serve(run_json, html=False), methods=get),
        Route("/api/score", serve(score_json, html=False), methods=get),
        Route("/api/insights", serve(insights_json, html=False), methods=get),
        Route("/api/ping", ping, methods=get),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(routes=routes, middleware=middleware)


STALE_NOTE = (
    b'<p class="note" id="stale">The history changed: reading it again; reload in a moment '
    b"for the newest runs.</p></main>"
)


def _marked_stale(response: Response, *, html: bool) -> Response:
    """A page from the previous snapshot while the new one is built: said on the page (HTML)
    and in ``X-Dashboard-Stale: 1`` (both)."""
    if html:
        body = bytes(response.body).replace(b"</main>", STALE_NOTE, 1)
        response = HTMLResponse(body, status_code=response.status_code)
    response.headers["X-Dashboard-Stale"] = "1"
    return response


def _timed(response: Response, began: float) -> Response:
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - began) * 1000:.2f}"
    response.headers["Cache-Control"] = "no-store"
    return response
