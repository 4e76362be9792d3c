"""Shared fixtures for every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test records into its own history file (INTERFACES §8), never the user's."""
    path = tmp_path_factory.mktemp("history") / "history.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IALR_HISTORY", str(path))
        yield path
