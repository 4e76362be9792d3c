"""The lab drills' measuring pieces on real files: what users saw, read from the load
generator's records in a real telemetry store, and where restored data directories go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ial_resilience.backup.lab_drills import new_data_dir
from ial_resilience.backup.lab_stage import current_writer, first_write_after
from ial_resilience.errors import BackupError
from ial_resilience.lab.loadgen_record import Outcome
from ial_resilience.observability.store import TelemetryStore

DISASTER = 1_000.0


def _record(store: Path, *outcomes: Outcome) -> None:
    with_store = TelemetryStore(store)
    try:
        with_store.write_points(o.point() for o in outcomes)
    finally:
        with_store.close()


def _post(sent: float, latency_ms: float, status: str) -> Outcome:
    return Outcome(sent, 0.0, latency_ms, "POST", "/orders", status)


def test_first_write_is_the_earliest_success_sent_after_the_disaster(tmp_path: Path) -> None:
    store = tmp_path / "telemetry.db"
    assert first_write_after(store, DISASTER) is None  # nothing recorded yet
    _record(
        store,
        _post(DISASTER - 0.5, 900.0, "201"),  # sent before, answered after: not a recovery
        _post(DISASTER + 0.2, 5.0, "503"),  # the database was gone
        _post(DISASTER + 0.4, 2000.0, "timeout"),
        Outcome(DISASTER + 0.5, 0.0, 3.0, "GET", "/orders", "200"),  # a read, not a write
        _post(DISASTER + 3.0, 250.0, "201"),  # answered at +3.25 s
        _post(DISASTER + 3.1, 10.0, "201"),  # answered at +3.11 s: the first
    )
    first = first_write_after(store, DISASTER)
    assert first == pytest.approx(DISASTER + 3.11)


def test_no_successful_write_after_the_disaster_is_none(tmp_path: Path) -> None:
    store = tmp_path / "telemetry.db"
    _record(store, _post(DISASTER - 1.0, 5.0, "201"), _post(DISASTER + 1.0, 5.0, "503"))
    assert first_write_after(store, DISASTER) is None


def test_restored_directories_are_numbered_after_every_earlier_one(tmp_path: Path) -> None:
    for name in ("db-primary", "db-replica", "db-r1-lost-123", "db-r2", ".db-r2.run"):
        (tmp_path / name).mkdir()
    assert new_data_dir(tmp_path) == tmp_path / "db-r3"


class _Agent:
    """The agent's answer (a boundary this test is not about): a lab without db-primary."""

    def processes(self) -> list[dict[str, Any]]:
        return [{"name": "web", "pid": 1, "argv": ["web"], "alive": True}]


def test_a_lab_without_the_bundled_writer_is_refused_with_a_hint() -> None:
    with pytest.raises(BackupError) as caught:
        current_writer(_Agent(), "postgresql://postgres@127.0.0.1:5432/postgres")  # type: ignore[arg-type]
    assert "db-primary" in caught.value.message
    assert "bundled lab" in (caught.value.hint or "")
