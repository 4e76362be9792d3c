"""Writing the pipeline's files: atomically, and a clear error when the path is not writable."""

from __future__ import annotations

import os
from pathlib import Path

from ial_resilience.errors import InputError


def write_text(path: Path, text: str, *, append: bool = False) -> None:
    """Write (or append to) ``path``; an unwritable path is an ``InputError`` (exit 3)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if append:
            with open(path, "a", encoding="utf-8") as file:
                file.write(text)
            return
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        raise InputError(
            f"cannot write {path}: {error.strerror}",
            hint="choose a writable path (--junit, --summary, $GITHUB_STEP_SUMMARY)",
        ) from error
