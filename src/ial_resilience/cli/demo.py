"""``ialr demo``: the main job on the embedded default (what ``make demo`` runs)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root app."""
