"""Commands of `ialr chaos` (placeholder until implemented; see the issue tracker)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `chaos` group."""
