"""``ialr agent``: run the local fault agent and talk to it."""

from __future__ import annotations

import typer

app = typer.Typer(help="The local fault agent: run it, show its links and faults, revert.", no_args_is_help=True)
