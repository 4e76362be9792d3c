"""Results of AWS recovery drills, written where the local drills write theirs.

One JSON file per drill under ``$IALR_STATE_DIR`` (or ``~/.local/state/ialr``)
``/history/recovery/<%Y%m%dT%H%M%S%fZ>-<scenario>.json``, with the fields every drill shares:
``scenario``, ``started`` (ISO 8601 UTC), ``rto_s``, ``rpo_s`` (``null`` when not measured),
``passed``, ``details``; plus the field names the local drills use
(``ial_resilience.backup.drills.DrillResult``: ``started_at``, ``status``, ``rto_target_s``,
``data_ok``, ``detail``) so one reader can list both.

:func:`latest_results` reads the newest result of each :class:`AwsScenario` back (files of the
local drills in the same directory are skipped; ``ialr recovery docs`` renders both).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ial_resilience import history
from ial_resilience.agent.state import recovery_history_dir
from ial_resilience.errors import StoreError


class AwsScenario(StrEnum):
    """The AWS restore drills (``ialr recovery aws dynamodb|s3``) as recorded in the history."""

    DYNAMODB_PITR = "aws-dynamodb-pitr"
    S3_PREVIOUS_VERSION = "aws-s3-previous-version"


@dataclass(frozen=True)
class DrillResult:
    scenario: str
    started: str
    rto_s: float | None
    rpo_s: float | None
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        shared = asdict(self)
        local_names = {
            "started_at": self.started,
            "status": "passed" if self.passed else "failed",
            "rto_target_s": self.details.get("rto_target_s"),
            "data_ok": bool(self.details.get("content_matches")),
            "detail": f"AWS drill at {self.details.get('endpoint', 'AWS')}",
        }
        return {**shared, **local_names}


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def history_dir(state: Path | None = None) -> Path:
    return recovery_history_dir(state)


def record(result: DrillResult, directory: Path | None = None) -> Path:
    """Write ``result`` atomically (temporary file, then rename); returns the file written."""
    target_dir = directory or history_dir()
    started = datetime.fromisoformat(result.started.replace("Z", "+00:00"))
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = target_dir / f"{stamp}-{result.scenario}.json"
    temporary = path.with_suffix(".json.tmp")
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(result.as_json(), indent=2, sort_keys=True) + "\n")
        temporary.replace(path)
        history.save([history.record_drill(result.as_json(), path)])
    except OSError as error:
        raise StoreError(
            f"cannot write the drill result to {path}: {error.strerror or error}",
            hint="make the directory writable or set IALR_STATE_DIR to a writable directory",
        ) from error
    return path


def _read(path: Path) -> DrillResult | None:
    """The AWS drill recorded in ``path``; None for a local drill's file or an unreadable one."""
    try:
        saved = json.loads(path.read_text())
        scenario = AwsScenario(saved["scenario"])
        return DrillResult(
            scenario=scenario,
            started=str(saved["started"]),
            rto_s=None if saved["rto_s"] is None else float(saved["rto_s"]),
            rpo_s=None if saved["rpo_s"] is None else float(saved["rpo_s"]),
            passed=bool(saved["passed"]),
            details=dict(saved.get("details") or {}),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def latest_results(directory: Path | None = None) -> dict[AwsScenario, DrillResult]:
    """The newest recorded result of each AWS scenario (file names start with the time)."""
    directory = directory or history_dir()
    found: dict[AwsScenario, DrillResult] = {}
    for path in sorted(directory.glob("*-aws-*.json")) if directory.is_dir() else []:
        result = _read(path)
        if result is not None:
            found[AwsScenario(result.scenario)] = result
    return found
