"""``ialr observe``: dashboards, alarms and tracing set-up (local and AWS)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Observability set-up: dashboards, alarms, sampling rules; render the 00c phase.",
    no_args_is_help=True,
)
