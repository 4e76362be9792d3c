"""``ialr recovery test --lab``: the three drills on the lab's writer under live traffic.

One run (own lab in a private state dir, kept with ``--keep-lab`` so the test can look at it):
every drill passes with a positive, bounded RTO measured from the load generator's records,
writer-lost loses at most 1 s, the restored writer serves writes through the same ``api->db``
address, the replica streams again from it, and ``ialr lab down`` afterwards leaves no process
and no port behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psycopg
import pytest

from ial_resilience.backup.drills import RPO_TARGET_S, DrillStatus, Scenario, latest_results
from ial_resilience.cli.main import main
from ial_resilience.lab import Lab
from tests.integration.test_lab_lifecycle import _footprint, _leaks

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(240)]
RTO_BOUND_S = 60.0  # generous for a loaded machine; the drills take seconds


def _served_by(dsn: str) -> str:
    """The data directory of the server behind ``dsn``, after a write through it."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("INSERT INTO ialr_heartbeat (at) VALUES (clock_timestamp())")
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    return str(row[0])


def _replicas_streaming(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' "
            "AND application_name NOT IN ('pg_receivewal', 'pg_basebackup')"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_three_lab_drills_under_traffic_then_lab_down_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "state"
    monkeypatch.setenv("IALR_STATE_DIR", str(state_dir))
    lab = Lab(state_dir)
    try:
        code = main(["recovery", "test", "--lab", "--keep-lab", "--json"])
        printed = json.loads(capsys.readouterr().out)
        assert code == 0, printed

        recorded = latest_results(lab=True)
        assert set(recorded) == set(Scenario)
        assert latest_results() == {}  # the lab's drills do not pass for local ones
        for scenario, result in recorded.items():
            assert result.status is DrillStatus.PASSED, result.detail
            assert result.rto_s is not None and 0 < result.rto_s < RTO_BOUND_S
            assert result.restore_s is not None and 0 < result.restore_s <= result.rto_s
            assert result.data_ok and "served through api->db" in result.detail
            assert Path(printed[list(Scenario).index(scenario)]["recorded"]).exists()
        lost = recorded[Scenario.WRITER_LOST]
        assert lost.rpo_s is not None and lost.rpo_s <= RPO_TARGET_S
        assert "invalid page" in recorded[Scenario.CORRUPTION].detail

        info = lab.require()
        # same api->db address as when the lab started, now served by the last restore
        assert _served_by(info.exports["db_dsn"]) == str(state_dir / "lab" / "db-r3")
        answer = httpx.post(f"{info.exports['lb']}/orders", json={"item": "x", "amount": 1})
        assert answer.status_code == 201, answer.text
        parts = {p["name"]: p["state"] for p in lab.status()["parts"]}
        assert parts["db-primary"] == parts["db-replica"] == "healthy"
        assert recorded[Scenario.CORRUPTION].detail.endswith("replica rebuilt")
        assert _replicas_streaming(info.exports["db_primary_dsn"]) == 1
        pids, ports = _footprint(state_dir)
    finally:
        if lab.info() is not None:
            left = lab.down()
            assert not left, f"lab down left processes behind: {left}"
    assert _leaks(pids, ports, state_dir) == {}
