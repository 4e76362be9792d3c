"""A test-only stand-in for ``ial_resilience.history`` (INTERFACES §8), used by the dashboard
tests until the history part is merged: the same names (``HistoryStore.open``, ``Record``,
``RecordKind``, ``default_history_path``, ``analyze``, ``resilience_score``, ``kpis``) over a
JSON-lines file. Deliberately simple: the dashboard tests are about the web layer, not about
the analysis, so the figures here are plain counts and ratios.

``install()`` registers it in ``sys.modules``; ``python -m tests.history_standin ARGS`` runs
``ialr ARGS`` with it installed (the browser test starts ``ialr dashboard`` that way).
"""

from __future__ import annotations

import json
import os
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ial_resilience.errors import StoreError


class RecordKind(StrEnum):
    CHAOS_RUN = "chaos_run"
    GAMEDAY = "gameday"
    ALERT_ACCURACY = "alert_accuracy"
    RECOVERY_DRILL = "recovery_drill"
    BACKUP = "backup"
    ROLLOUT = "rollout"


@dataclass(frozen=True)
class Record:
    id: str
    kind: RecordKind
    key: str
    title: str
    status: str
    started_at: float
    ended_at: float | None
    environment: str = "local"
    provider: str = "local"
    parent_id: str | None = None
    source: str | None = None
    tags: tuple[str, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind.value, "tags": list(self.tags)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Record:
        return cls(**{**raw, "kind": RecordKind(raw["kind"]), "tags": tuple(raw.get("tags", ()))})


def default_history_path() -> Path:
    return Path(os.environ["IALR_HISTORY"])


class HistoryStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    @contextmanager
    def open(cls, path: Path | None = None) -> Iterator[HistoryStore]:
        yield cls(path or default_history_path())

    def add_many(self, records: Sequence[Record]) -> int:
        with self.path.open("a", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record.to_json()) + "\n")
        return len(records)

    def records(self) -> list[Record]:
        if not self.path.exists():
            return []
        found = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                found.append(Record.from_json(json.loads(line)))
            except (ValueError, TypeError, KeyError) as exc:
                raise StoreError(
                    f"{self.path}:{number}: the history file is corrupt ({exc})",
                    hint="restore it from a backup or move it away; it was not changed",
                ) from exc
        return sorted(found, key=lambda r: r.started_at)


@dataclass(frozen=True)
class _Json:
    body: Any

    def to_json(self) -> Any:
        return self.body


def analyze(records: Sequence[Record], now: float) -> _Json:
    failed = [r for r in records if r.status not in ("passed", "completed")]
    recs = []
    if failed:
        recs.append(
            {
                "text": f"{len(failed)} runs did not pass: look at the latest first",
                "severity": "warning",
                "evidence": [
                    {"record_id": r.id, "figure": "passed", "value": False} for r in failed[-3:]
                ],
            }
        )
    return _Json({"trends": [], "change_points": [], "regressions": [], "recommendations": recs})


def resilience_score(records: Sequence[Record], now: float) -> _Json:
    chaos = [r for r in records if r.kind is RecordKind.CHAOS_RUN]
    if not chaos:
        return _Json({"value": None, "parts": [], "formula": "passed / runs × 100"})
    share = sum(r.status == "passed" for r in chaos) / len(chaos)
    parts = [{"name": "outcomes", "weight": 1.0, "value": share, "detail": f"{len(chaos)} runs"}]
    return _Json({"value": 100.0 * share, "parts": parts, "formula": "passed / runs × 100"})


def kpis(records: Sequence[Record], now: float) -> list[_Json]:
    chaos = [r for r in records if r.kind is RecordKind.CHAOS_RUN]
    rate = sum(r.status == "passed" for r in chaos) / len(chaos) if len(chaos) >= 3 else None
    met = None if rate is None else rate > 0.95
    return [
        _Json({"name": "chaos_pass_rate", "value": rate, "unit": "", "target": "> 0.95",
               "met": met, "sample_size": len(chaos), "note": "" if chaos else "not enough data"}),
        _Json({"name": "mttr", "value": None, "unit": "s", "target": "< 1800", "met": None,
               "sample_size": 0, "note": "not enough data"}),
    ]  # fmt: skip


def modules() -> dict[str, types.ModuleType]:
    """This stand-in as ``ial_resilience.history`` and its analysis submodules."""
    package = types.ModuleType("ial_resilience.history")
    for name in ("HistoryStore", "Record", "RecordKind", "default_history_path"):
        setattr(package, name, globals()[name])
    package.__path__ = []
    found = {package.__name__: package}
    for sub, name, function in (
        ("analyze", "analyze", analyze),
        ("score", "resilience_score", resilience_score),
        ("kpis", "kpis", kpis),
    ):
        module = types.ModuleType(f"ial_resilience.history.{sub}")
        setattr(module, name, function)
        found[module.__name__] = module
    return found


def install() -> None:
    sys.modules.update(modules())


if __name__ == "__main__":
    install()
    from ial_resilience.cli.main import main

    sys.argv = ["ialr", *sys.argv[1:]]
    main()
