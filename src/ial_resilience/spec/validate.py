"""Validate any spec file (experiment, suite or system) and report, never raise, its problems.

Used by ``ialr chaos validate``: the kind of a file is told by its top-level keys (a suite has
``experiments``, a system has ``links`` or ``processes`` and no ``method``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ial_resilience.errors import Problem, SpecError
from ial_resilience.spec.document import read_document
from ial_resilience.spec.loader import load_experiment, load_system
from ial_resilience.spec.suite import load_suite
from ial_resilience.spec.system import System


class FileKind(StrEnum):
    EXPERIMENT = "experiment"
    SUITE = "suite"
    SYSTEM = "system"


@dataclass(frozen=True)
class FileReport:
    """The outcome of validating one file: its problems, or a one-line summary when valid."""

    file: str
    kind: FileKind
    problems: tuple[Problem, ...] = ()
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind.value,
            "ok": self.ok,
            "summary": self.summary,
            "problems": [
                {
                    "file": p.file,
                    "line": p.line,
                    "column": p.column,
                    "key": p.key,
                    "found": p.found,
                    "expected": p.expected,
                }
                for p in self.problems
            ],
        }


def detect_kind(data: Any) -> FileKind:
    """Which kind of spec file ``data`` (the parsed top level) is."""
    if isinstance(data, dict):
        if "experiments" in data:
            return FileKind.SUITE
        if ("links" in data or "processes" in data) and "method" not in data:
            return FileKind.SYSTEM
    return FileKind.EXPERIMENT


def _plural(count: int, word: str) -> str:
    suffix = "" if count == 1 else ("es" if word.endswith("s") else "s")
    return f"{count} {word}{suffix}"


def describe_system(system: System) -> str:
    """The one-line summary of a valid system file."""
    parts = (
        _plural(len(system.links), "link"),
        _plural(len(system.processes), "process"),
        _plural(len(system.faults), "declared fault"),
    )
    return f"system {system.name!r}: {', '.join(parts)}"


def _summary(
    kind: FileKind, path: Path, variables: Mapping[str, str], system: System | None
) -> str:
    if kind is FileKind.SUITE:
        suite = load_suite(path, variables, system)
        return f"suite {suite.title!r}: {_plural(len(suite.experiments), 'experiment')}"
    if kind is FileKind.SYSTEM:
        return describe_system(load_system(path, variables))
    experiment = load_experiment(path, variables, system)
    parts = (
        _plural(len(experiment.targets), "target"),
        _plural(len(experiment.method), "fault"),
        _plural(len(experiment.steady_state), "steady-state check"),
        _plural(len(experiment.guardrails), "guardrail"),
    )
    return f"experiment {experiment.title!r}: {', '.join(parts)}"


def validate_file(
    path: str | Path, variables: Mapping[str, str] | None = None, system: System | None = None
) -> FileReport:
    """Validate one file of any kind; problems are returned in the report."""
    file = Path(path)
    kind = FileKind.EXPERIMENT
    try:
        kind = detect_kind(read_document(file).data)
        summary = _summary(kind, file, variables or {}, system)
    except SpecError as error:
        return FileReport(str(file), kind, tuple(error.problems))
    return FileReport(str(file), kind, summary=summary)
