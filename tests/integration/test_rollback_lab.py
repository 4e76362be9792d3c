"""Rollbacks in the real lab: a bad version rolled back by itself under real traffic, and the
control plane paused during the rollback (the rollback fails with a known, recorded state)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ial_resilience.cli.main import main
from ial_resilience.lab.telemetry import store_path
from ial_resilience.lab.versions import load_versions
from ial_resilience.observability.store import open_store
from ial_resilience.rollback.lab import LabDeployment, LabExecutor
from ial_resilience.rollback.model import Phase, RollbackOutcome
from ial_resilience.rollback.rollout import Rollout, RolloutOptions
from tests.lab_fixtures import RunningLab, lab  # noqa: F401


def test_a_bad_version_rolls_back_by_itself(
    lab: RunningLab,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["deploy", "v2-errors", "--state-dir", str(lab.state_dir), "--json"])
    out = capsys.readouterr()
    assert code == 1, out.err  # 1: rolled back
    decision = json.loads(out.out)
    assert decision["status"] == "rolled_back" and decision["previous"] == "v1"
    assert decision["trigger"]["kind"] in {"canary", "predictive", "metric"}
    assert decision["figures"]["rolled_back"] and decision["figures"]["rollback_ok"]
    assert decision["figures"]["time_to_detect_s"] > 0
    assert decision["state"]["phase"] == "rolled_back" and decision["state"]["version"] == "v1"
    assert json.loads(Path(decision["record"]).read_text())["id"] == decision["id"]
    replicas = lab.control("GET", "/v1/deploy")["replicas"]
    assert {r["version"] or "v1" for r in replicas} == {"v1"}  # "": started by lab up


class PausingExecutor:
    """The lab executor, with the control plane paused (agent `pause` fault) as it starts."""

    name = "lab"

    def __init__(self, lab: RunningLab, inner: LabExecutor) -> None:  # noqa: F811
        self.lab, self.inner = lab, inner
        self.faults: list[dict[str, Any]] = []

    def state(self) -> Any:
        return self.inner.state()

    def rollback(self, reason: str, *, timeout: float) -> RollbackOutcome:
        request = {"kind": "pause", "target": {"process": "control"}, "duration_ms": 4000}
        self.faults = self.lab.agent.apply_faults([request])
        return self.inner.rollback(reason, timeout=timeout)


def test_control_plane_paused_during_rollback_is_reported_with_its_state(
    lab: RunningLab,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    versions = load_versions()
    deployment = LabDeployment(lab.exports["control"], versions, timeout=1.0)
    store = open_store(store_path(lab.state_dir))
    holder: list[PausingExecutor] = []

    def factory(previous: str | None) -> PausingExecutor:
        holder.append(PausingExecutor(lab, LabExecutor(deployment, previous)))
        return holder[0]

    options = RolloutOptions(rollback_timeout=3.0, metric_trigger=False)
    try:
        decision = Rollout(state_dir=lab.state_dir, lb_url=lab.exports["lb"],
                           deployment=deployment, store=store, version="v2-errors",
                           options=options, executor_factory=factory).run()  # fmt: skip
        assert decision["status"] == "rollback_failed"
        assert decision["state"]["phase"] == Phase.UNKNOWN.value  # never a guess
        assert "cannot" in decision["rollback"]["error"]
        assert decision["figures"]["rollback_ok"] is False
        assert Path(lab.state_dir, "rollouts", f"{decision['id']}.json").exists()
    finally:
        for fault in holder[0].faults if holder else []:
            lab.agent.revert_fault(fault["id"])
        deployment.close()
    # the fleet is left mixed and says so; --force puts one version back everywhere
    capsys.readouterr()
    assert main(["deploy", "v1", "--state-dir", str(lab.state_dir)]) == 4
    assert "--force" in capsys.readouterr().err
    restore = ["deploy", "v1", "--force", "--canary-for", "2s", "--max-canary", "8s", "--json"]
    code = main([*restore, "--state-dir", str(lab.state_dir)])
    assert code == 0, capsys.readouterr().err
    assert {r["version"] or "v1" for r in lab.control("GET", "/v1/deploy")["replicas"]} == {"v1"}
    store.close()
