"""``ialr alerts``: alert rules, the evaluator, end-to-end alert tests, alert accuracy."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Alerting: validate rules, evaluate, test the pipeline end to end, measure accuracy.",
    no_args_is_help=True,
)
