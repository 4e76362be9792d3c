"""Statistics, tolerance evaluation, bounded samples, ledger, safety policy and the run lock."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ial_resilience.engine import ledger as ledger_mod
from ial_resilience.engine import safety
from ial_resilience.engine.hypothesis import evaluate
from ial_resilience.engine.lock import RunLock
from ial_resilience.engine.model import ResolvedTarget
from ial_resilience.engine.samples import Accumulator, SampleRecorder
from ial_resilience.errors import InputError, LockHeld, SafetyRefusal
from ial_resilience.probes.base import Sample
from ial_resilience.probes.stats import compute, percentile
from ial_resilience.spec.tolerance import parse_comparison


def sample(latency: float, ok: bool = True, value: float | None = None, t: float = 0.0) -> Sample:
    return Sample(value, ok, latency, 1000.0 + t, t, None if ok else "failed")


def test_percentiles_use_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) is None


def test_statistics_over_samples() -> None:
    samples = [sample(10, value=1), sample(20, value=3), sample(30, ok=False), sample(40, value=2)]
    stats = compute(samples)
    assert stats["success_rate"] == 0.75
    assert stats["error_rate"] == 0.25
    assert stats["count"] == 4
    assert stats["p50_ms"] == 20 and stats["max_ms"] == 40 and stats["min_ms"] == 10
    assert stats["mean_ms"] == 25
    assert (stats["value_min"], stats["value_max"], stats["value_last"]) == (1, 3, 2)
    assert stats["value_mean"] == 2


def test_accumulator_matches_compute() -> None:
    samples = [sample(float(i % 17), ok=i % 5 != 0, value=float(i)) for i in range(500)]
    acc = Accumulator()
    for s in samples:
        acc.add(s)
    assert acc.statistics() == compute(samples)


def test_tolerance_evaluation_reports_each_failing_statistic() -> None:
    tolerance = {"success_rate": parse_comparison(">= 0.99"), "p95_ms": parse_comparison("<= 15")}
    verdict = evaluate("api", tolerance, [sample(10), sample(20), sample(12)])
    assert not verdict.holds
    [failure] = verdict.failures()
    assert failure.statistic == "p95_ms" and failure.actual == 20 and failure.expected == "<= 15"
    assert "p95_ms=20 (expected <= 15)" in verdict.describe()


def test_a_statistic_without_samples_never_holds() -> None:
    verdict = evaluate("api", {"p95_ms": parse_comparison("<= 15")}, [])
    assert not verdict.holds


def test_recorder_keeps_everything_under_the_cap() -> None:
    recorder = SampleRecorder(0.0, cap=100)
    for i in range(99):
        recorder.add(sample(1.0, t=i * 0.1))
    assert len(recorder.kept) == 99 and recorder.stride == 1


def test_recorder_decimates_evenly_and_keeps_exact_aggregates() -> None:
    recorder = SampleRecorder(0.0, cap=100, window_s=1.0, max_windows=16)
    n = 10_000
    for i in range(n):
        recorder.add(sample(float(i % 7), ok=i % 10 != 0, value=float(i), t=i * 0.01))
    assert len(recorder.kept) < 100
    times = [s.t_mono for s in recorder.kept]
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    assert len(gaps) == 1, "kept samples are evenly spaced"
    assert times[-1] > 0.9 * n * 0.01, "the kept samples span the whole run"
    windows = [w for w in recorder.windows if w.count]
    assert len(recorder.windows) <= 16
    assert sum(w.count for w in windows) == n
    assert sum(w.ok for w in windows) == n - n // 10
    assert max(w.value_max for w in windows) == n - 1
    assert min(w.latency_min_ms for w in windows) == 0.0
    assert len(json.dumps(recorder.to_json())) < 60_000


def test_ledger_pending_lists_intents_without_revert(tmp_path: Path) -> None:
    ledger = ledger_mod.Ledger(tmp_path, "run-1")
    ledger.write(ledger_mod.LedgerEvent.INTENT, "run-1-s0", fault="network.latency")
    ledger.write(ledger_mod.LedgerEvent.APPLIED, "run-1-s0", handles=["run-1-s0"])
    ledger.write(ledger_mod.LedgerEvent.INTENT, "run-1-s1", fault="network.loss")
    ledger.write(ledger_mod.LedgerEvent.INTENT, "run-1-s2", fault="network.reset")
    ledger.write(ledger_mod.LedgerEvent.REVERTED, "run-1-s2")
    ledger.close()
    with ledger.path.open("a") as handle:
        handle.write('{"torn": ')  # a crash mid-line
    pending = ledger_mod.pending(ledger.path)
    assert [p.intent.key for p in pending] == ["run-1-s0", "run-1-s1"]
    assert pending[0].applied is not None and pending[1].applied is None
    assert oct(ledger.path.stat().st_mode & 0o777) == "0o600"


def test_production_needs_both_the_policy_and_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SafetyRefusal, match="does not allow production"):
        safety.check_environment(safety.Policy(), "production", allow_production=True)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("environments:\n  allow_production: true\n")
    policy = safety.load_policy(policy_file)
    with pytest.raises(SafetyRefusal, match="--allow-production"):
        safety.check_environment(policy, "production", allow_production=False)
    safety.check_environment(policy, "production", allow_production=True)


def test_blocked_and_unknown_environments_are_refused_with_what_to_change() -> None:
    policy = safety.Policy(environments=safety.EnvironmentRules(blocked=("staging",)))
    with pytest.raises(SafetyRefusal, match="blocked") as info:
        safety.check_environment(policy, "staging", allow_production=False)
    assert "environments.blocked" in info.value.hint
    with pytest.raises(SafetyRefusal, match="not in the policy's allowed") as info:
        safety.check_environment(safety.Policy(), "qa", allow_production=False)
    assert "environments.allowed" in info.value.hint
    safety.check_environment(safety.Policy(), "lab", allow_production=False)


def test_blast_radius_default_is_half_of_the_replicas() -> None:
    policy = safety.Policy()
    safety.check_blast_radius(policy, "process.kill", ResolvedTarget("api", "service", "api", 4, 2))
    with pytest.raises(SafetyRefusal, match=r"3 of 4 replicas \(75%\)"):
        safety.check_blast_radius(
            policy, "process.kill", ResolvedTarget("api", "service", "api", 4, 3)
        )


def test_policy_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("blast_radius:\n  max_share: 2\n")
    with pytest.raises(InputError, match=r"blast_radius\.max_share"):
        safety.load_policy(path)
    path.write_text("surprise: 1\n")
    with pytest.raises(InputError, match="surprise"):
        safety.load_policy(path)


def test_policy_defaults_apply_without_a_file(tmp_path: Path) -> None:
    assert safety.load_policy(None, cwd=tmp_path).source == "defaults"
    (tmp_path / "ialr-policy.yaml").write_text("blast_radius: {max_share: 0.25}\n")
    assert safety.load_policy(None, cwd=tmp_path).blast_radius.max_share == 0.25


def test_lock_refuses_a_second_run_and_names_the_holder(tmp_path: Path) -> None:
    with RunLock(tmp_path, "lab", "first experiment"):
        with pytest.raises(LockHeld, match=rf"pid {os.getpid()} running 'first experiment'"):
            RunLock(tmp_path, "lab", "second").acquire()
        RunLock(tmp_path, "other-system", "third").acquire().release()
    RunLock(tmp_path, "lab", "after release").acquire().release()


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    code = (
        "import sys,time; from pathlib import Path; from ial_resilience.engine.lock import RunLock;"
        f"RunLock(Path({str(tmp_path)!r}), 'lab', 'holder').acquire(); print('held', flush=True);"
        "time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld):
            RunLock(tmp_path, "lab", "second").acquire()
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            RunLock(tmp_path, "lab", "second").acquire().release()
            break
        except LockHeld:
            assert time.monotonic() < deadline
            time.sleep(0.01)
