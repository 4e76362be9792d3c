"""``ialr recovery test`` runs real drills on a real PostgreSQL and records RTO/RPO."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ial_resilience.backup.drills import (
    RPO_TARGET_S,
    RTO_TARGET_S,
    DrillStatus,
    Scenario,
    latest_results,
)
from ial_resilience.cli.main import main

pytestmark = pytest.mark.postgres


def test_every_drill_passes_prints_its_table_and_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IALR_STATE_DIR", str(tmp_path / "state"))
    code = main(["recovery", "test", "--rows", "5000"])
    out = capsys.readouterr().out
    assert code == 0, out
    for header in ("scenario", "RTO", "RPO", "dropped-table", "writer-lost", "corruption"):
        assert header in out
    assert out.count("passed") == 3

    history = tmp_path / "state" / "history" / "recovery"
    results = latest_results(history)
    assert set(results) == set(Scenario)
    for scenario, result in results.items():
        assert result.status == DrillStatus.PASSED, (scenario, result)
        assert result.data_ok
        assert result.rto_s is not None and 0 < result.rto_s < RTO_TARGET_S
        assert result.rpo_s is not None and 0 <= result.rpo_s <= RPO_TARGET_S
        assert result.wal_segments >= 1
        assert {"base_backup", "restore_files", "recovery_and_start"} <= set(result.steps)
    assert "invalid page in block" in results[Scenario.CORRUPTION].detail
    recorded = [json.loads(p.read_text()) for p in history.glob("*.json")]
    assert len(recorded) == 3 and all("rto_s" in r and "rpo_s" in r for r in recorded)

    doc = tmp_path / "RECOVERY_PROCEDURES.md"
    assert main(["recovery", "docs", "--out", str(doc)]) == 0
    assert "3 of 3 scenarios drilled" in capsys.readouterr().out
    text = doc.read_text()
    assert "_Not drilled yet" not in text and text.count("| result | passed |") == 3
