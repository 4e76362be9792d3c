"""The experiment library (chaos/): every suite loads, every hypothesis is stated in numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ial_resilience.spec import load_suite

CHAOS = Path(__file__).resolve().parents[2] / "chaos"
VARIABLES = {
    "lb": "http://127.0.0.1:1",
    "control": "http://127.0.0.1:2",
    "loadgen": "http://127.0.0.1:3",
    "replica.api-1": "http://127.0.0.1:4",
    "python": "/usr/bin/python3",
}
SUITES = ["suite.yaml", "quick-suite.yaml", "network-experiments.yaml",
          "infrastructure-experiments.yaml", "application-experiments.yaml"]  # fmt: skip


@pytest.mark.parametrize("name", SUITES)
def test_every_suite_loads_with_the_game_day_variables(name: str) -> None:
    suite = load_suite(CHAOS / name, VARIABLES)
    assert suite.experiments
    assert all(entry.experiment is not None for entry in suite.experiments)


def test_the_full_suite_is_the_three_groups_and_ends_with_the_failover() -> None:
    full = [Path(e.path).name for e in load_suite(CHAOS / "suite.yaml", VARIABLES).experiments]
    groups = [
        Path(e.path).name
        for name in SUITES[2:]
        for e in load_suite(CHAOS / name, VARIABLES).experiments
    ]
    assert sorted(full) == sorted(groups) and len(full) == 13
    assert full[-1] == "db-failover.yaml"


def test_the_quick_suite_has_a_replica_kill_the_failover_and_the_payments_outage() -> None:
    suite = load_suite(CHAOS / "quick-suite.yaml", VARIABLES)
    faults = {step.fault for e in suite.experiments if e.experiment for step in e.experiment.method}
    assert {"process.kill", "db.failover", "dependency.outage"} <= faults
    budget = sum(e.experiment.method_duration + 10 for e in suite.experiments if e.experiment)
    assert budget <= 90


def test_every_hypothesis_measures_users_availability_and_a_recovery_budget() -> None:
    for entry in load_suite(CHAOS / "suite.yaml", VARIABLES).experiments:
        experiment = entry.experiment
        assert experiment is not None
        labels = [check.probe.label for check in experiment.steady_state]
        assert "users availability" in labels, entry.path
        assert all(check.tolerance for check in experiment.steady_state)
        assert experiment.recovery.within <= 20.0
        assert experiment.guardrails, entry.path
