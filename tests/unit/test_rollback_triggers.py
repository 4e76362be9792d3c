"""Rollback triggers (metric, predictive, chaos), versions files, the lab executor's refusals
and `ialr deploy`'s bad input — no lab needed."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from ial_resilience.cli.main import main
from ial_resilience.engine.lock import RunLock
from ial_resilience.errors import InputError, LockHeld, SpecError
from ial_resilience.lab.versions import VersionKnobs, load_versions
from ial_resilience.observability.store import Point, TelemetryStore
from ial_resilience.rollback.lab import LabDeployment, LabExecutor
from ial_resilience.rollback.model import Phase, RollbackRefused
from ial_resilience.rollback.rollout import LOCK_SYSTEM, Rollout
from ial_resilience.rollback.triggers import (
    MetricTrigger,
    chaos_trigger,
    lab_rules,
    predict_exhaustion,
)


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def projection(**overrides: float) -> bool:
    args = dict(objective=0.99, budget_window_s=216.0, budget_used=0.0, canary_errors=20,
                canary_requests=100, baseline_error_ratio=0.0, replicas=2, new_replicas=1,
                canary_remaining_s=8.0, step_s=2.0)  # fmt: skip
    args.update(overrides)
    return predict_exhaustion(**args).exhausted  # type: ignore[arg-type]


def test_burn_rate_projection_fires_only_when_the_budget_would_run_out() -> None:
    assert not projection()  # 20 % on one replica for 10 s: a small share of 216 s
    assert projection(budget_used=0.9)  # most of the budget gone already
    assert projection(budget_window_s=10.0)  # a tight budget
    assert not projection(budget_used=0.99, canary_errors=0)  # a good canary never predicts
    assert not projection(budget_used=0.99, canary_errors=1, canary_requests=3)  # too little
    assert not projection(budget_used=1.5)  # gone before the rollout: not its doing
    assert not projection(budget_used=0.99, canary_errors=1, canary_requests=100)  # marginal


def test_metric_trigger_fires_on_a_burn_that_starts_during_the_rollout(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "telemetry.db")
    trigger = MetricTrigger(lab_rules(), store)
    assert trigger.check() is None
    now = time.time()
    points = [Point("http.requests", 1.0, {"service": "api", "replica": "api-1", "route":
                    "/orders", "outcome": "error" if i % 2 else "ok"}, now - 30 + i * 0.1)
              for i in range(300)]  # fmt: skip
    store.write_points(points)
    fired = trigger.check(now)
    assert fired is not None and fired.kind == "metric"
    assert "lab-availability-burn" in fired.reason and fired.evidence["alerts"]
    store.close()


def test_chaos_trigger_from_a_journal() -> None:
    assert chaos_trigger({"status": "passed"}, None) is None
    found = chaos_trigger({"status": "deviated", "title": "t", "reason": "p95 over"}, None)
    assert found is not None and found.kind == "chaos" and "deviated" in found.reason


def test_bundled_versions_and_unknown_version() -> None:
    versions = load_versions()
    assert versions.baseline == "v1"
    assert versions.get("v2-errors").error_rate == 0.2
    assert versions.get("v2-leak").leak_per_s == 2 * 1024 * 1024
    with pytest.raises(InputError, match="unknown version 'v9'"):
        versions.get("v9")


def test_a_bad_versions_file_names_every_problem_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "versions.yaml"
    path.write_text("version: 1\nbaseline: v0\nversions:\n  v1: {error_rate: 2}\n"
                    "  v2: {latency: 5}\n")  # fmt: skip
    with pytest.raises(SpecError) as caught:
        load_versions(path)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "error_rate" in text and "latency" in text and "baseline" in text
    assert f"{path}:4" in text and f"{path}:5" in text


def test_version_knobs_answer_500_and_leave_health_alone() -> None:
    async def ok(request: object) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/orders", ok), Route("/health", ok)])
    env = {"IALR_VERSION_ERROR_RATE": "1.0", "IALR_VERSION_LATENCY_MS": "1"}
    knobs = VersionKnobs(app, env)

    def status(path: str) -> int:
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "headers": [],
                 "query_string": b"", "root_path": ""}  # fmt: skip
        asyncio.run(knobs(scope, receive, send))
        return int(sent[0]["status"])  # type: ignore[call-overload]

    assert status("/orders") == 500
    assert status("/health") == 200


def test_executor_never_guesses_and_refuses_what_it_cannot_roll_back() -> None:
    deployment = LabDeployment(closed_url(), load_versions(), timeout=1.0)
    executor = LabExecutor(deployment, "v1")
    state = executor.state()
    assert state.phase is Phase.UNKNOWN and "cannot read the control plane" in state.detail
    with pytest.raises(RollbackRefused) as caught:
        executor.rollback("test", timeout=1.0)
    assert caught.value.state.phase is Phase.UNKNOWN and caught.value.exit_code == 4
    with pytest.raises(RollbackRefused, match="no previous version"):
        LabExecutor(deployment, None).rollback("test", timeout=1.0)
    deployment.close()


def test_a_second_rollout_is_refused_by_the_lock(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    deployment = LabDeployment(closed_url(), load_versions(), timeout=1.0)
    rollout = Rollout(state_dir=tmp_path, lb_url=closed_url(), deployment=deployment,
                      store=store, version="v2-errors")  # fmt: skip
    with RunLock(tmp_path, LOCK_SYSTEM, "deploy v1.1"), pytest.raises(LockHeld) as caught:
        rollout.run()
    assert caught.value.exit_code == 4 and "deploy v1.1" in caught.value.message
    deployment.close()
    store.close()


def test_deploy_cli_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["deploy", "v9"]) == 3
    assert "unknown version 'v9'" in capsys.readouterr().err
    assert main(["deploy"]) == 3
    assert main(["deploy", "v2-errors", "--executor", "ecs"]) == 3
    assert "--executor 'ecs'" in capsys.readouterr().err
    assert main(["deploy", "v2-errors", "--state-dir", str(tmp_path)]) == 3
    assert "lab up" in capsys.readouterr().err  # no lab running there
    assert main(["deploy", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["baseline"] == "v1" and {v["name"] for v in listed["versions"]} >= {"v2-slow"}
    assert main(["deploy", "--help"]) == 0
    assert "Exit codes" in capsys.readouterr().out
