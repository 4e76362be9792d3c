"""Run a Starlette app with uvicorn on 127.0.0.1 (the lab's services share this)."""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette


def config(app: Starlette, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )


def serve(app: Starlette, port: int) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn's own handlers stop it cleanly)."""
    uvicorn.Server(config(app, port)).run()
