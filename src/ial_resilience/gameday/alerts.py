"""Alerts during a game day: the lab's rules evaluated all day long, then judged.

:class:`AlertWatch` runs the alert :class:`~ial_resilience.alerting.evaluator.Evaluator` in a
background thread (every ``interval`` seconds) against the lab's telemetry store, where the API
replicas record ``http.requests``/``http.latency_ms``/``payments.charges``. A round that fails
(store busy) is counted and the next one tries again: alerting never stops the day.

After the day, :func:`per_experiment` lists the alerts fired while each experiment ran (time to
detect from its first fault applied, time to resolve from its last fault reverted) and
:func:`day_accuracy` scores them against the day's journals (ground truth: the fault windows)
with :mod:`ial_resilience.alerting.accuracy` — per rule, and for the alerting as a whole (a fault
window is detected when any rule fired in it; a quiet period is a false positive when any rule
fired in it). The plan's KPIs: accuracy > 90 %, false positives < 5 %.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ial_resilience.alerting import accuracy
from ial_resilience.alerting.evaluator import Evaluator
from ial_resilience.alerting.rules import RuleFile, load_rules
from ial_resilience.alerting.state import FiredAlert, history
from ial_resilience.errors import IalrError
from ial_resilience.observability.store import TelemetryStore

INTERVAL_S = 0.5
DRAIN_S = 15.0
"""After the last experiment, evaluation (and traffic) goes on until every alert resolved or
this long passed: a page still open at the end is reported as such."""
GRACE_S = 10.0
"""After a fault is reverted, an alert firing this long after still counts as caused by it."""
ANY_RULE = accuracy.ANY_RULE


def lab_rules_path() -> Path:
    """The bundled lab's rule file (``ial_resilience/lab/alerts.yaml``)."""
    return Path(str(resources.files("ial_resilience.lab") / "alerts.yaml"))


class AlertWatch:
    """The evaluator in a thread, from :meth:`start` to :meth:`stop`."""

    def __init__(self, rules_path: Path, store_path: Path, interval: float = INTERVAL_S) -> None:
        self.rules_path = rules_path
        self.store_path = store_path
        self.interval = interval
        self.rules: RuleFile = load_rules(rules_path)
        self.rounds = 0
        self.errors: list[str] = []
        self.started_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ialr-gameday-alerts", daemon=True)

    def start(self) -> AlertWatch:
        self.started_at = time.time()
        self._thread.start()
        return self

    def _loop(self) -> None:
        store = TelemetryStore(self.store_path)
        evaluator = Evaluator(self.rules, store)
        try:
            evaluator.run(
                self._stop, interval=self.interval, on_round=self._counted, on_error=self._failed
            )
        finally:
            store.close()

    def _counted(self, _: object) -> None:
        self.rounds += 1

    def _failed(self, error: IalrError) -> None:
        """A busy store: count the round, keep the first errors, try again next round."""
        if len(self.errors) < 20:
            self.errors.append(f"{type(error).__name__}: {error.message}")
        self.rounds += 1

    def drain(self, timeout: float) -> None:
        """Keep evaluating until no alert of the day is still firing, at most ``timeout`` s
        (traffic must still flow: an alert resolves on fresh data)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread.is_alive():
            if not any(a.resolved_at is None for a in self._history()):
                return
            time.sleep(self.interval)

    def _history(self) -> list[FiredAlert]:
        try:
            store = TelemetryStore(self.store_path)
        except IalrError as error:
            self.errors.append(f"history: {type(error).__name__}: {error.message}")
            return []
        try:
            return history(store, since=self.started_at)
        finally:
            store.close()

    def stop(self) -> list[FiredAlert]:
        """Stop evaluating; the alerts fired since :meth:`start` (resolved or not)."""
        self._stop.set()
        self._thread.join(30)
        return self._history()


def _fault_span(journal: Mapping[str, Any]) -> tuple[float, float] | None:
    windows = accuracy.journal_windows(journal)
    if not windows:
        return None
    return min(w.start for w in windows), max(w.end for w in windows)


def alert_json(alert: FiredAlert, span: tuple[float, float] | None) -> dict[str, Any]:
    detect = resolve = None
    if span is not None:
        detect = alert.fired_at - span[0]
        if alert.resolved_at is not None:
            resolve = alert.resolved_at - span[1]
    return {
        "rule": alert.rule,
        "severity": alert.severity,
        "labels": dict(alert.labels),
        "fired_at": alert.fired_at,
        "resolved_at": alert.resolved_at,
        "time_to_detect_s": detect,
        "time_to_resolve_s": resolve,
    }


def per_experiment(
    journal: Mapping[str, Any], alerts: Sequence[FiredAlert], until: float | None = None
) -> list[dict[str, Any]]:
    """Alerts that fired from the experiment's start until ``until`` (the next experiment's
    start; default its end + ``GRACE_S``), each attributed to one experiment only, with time to
    detect (fired − first fault applied) and time to resolve (resolved − last fault
    reverted; None while still firing)."""
    started = float(journal.get("started_at") or 0.0)
    ended = float(journal.get("ended_at") or started)
    end = ended + GRACE_S if until is None else until
    span = _fault_span(journal)
    return [alert_json(a, span) for a in alerts if started <= a.fired_at < end]


def day_accuracy(
    rules: RuleFile,
    alerts: Sequence[FiredAlert],
    journals: Sequence[Mapping[str, Any]],
    grace: float = GRACE_S,
) -> dict[str, Any]:
    """Per-rule and overall accuracy against the journals' fault windows."""
    windows = [w for j in journals for w in accuracy.journal_windows(j)]
    coverage = _coverage(journals)
    names = {r.name: r.annotations.get("faults") for r in rules.rules}
    per_rule = accuracy.score(names, alerts, windows, coverage, grace=grace)
    overall = accuracy.score_overall(alerts, windows, coverage, grace=grace)
    return {
        "grace_s": grace,
        "fault_windows": len(windows),
        "overall": overall.to_json(),
        "rules": [s.to_json() for s in per_rule],
        "targets": {
            "accuracy_above": accuracy.KPI_ACCURACY,
            "false_positive_rate_below": accuracy.KPI_FALSE_POSITIVE_RATE,
        },
    }


def _coverage(journals: Sequence[Mapping[str, Any]]) -> accuracy.Coverage | None:
    starts = [float(j["started_at"]) for j in journals if j.get("started_at") is not None]
    ends = [float(j.get("ended_at") or j["started_at"]) for j in journals if j.get("started_at")]
    return accuracy.Coverage(min(starts), max(ends)) if starts else None


def kpis(scored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The alert KPIs of report.json's ``kpis`` block (None when no alerts were evaluated)."""
    overall = scored["overall"] if scored else {}
    value, fpr = overall.get("accuracy"), overall.get("false_positive_rate")
    return {
        "alert_accuracy": value,
        "alert_accuracy_target": accuracy.KPI_ACCURACY,
        "alert_accuracy_met": None if value is None else value > accuracy.KPI_ACCURACY,
        "alert_false_positive_rate": fpr,
        "alert_false_positive_rate_target": accuracy.KPI_FALSE_POSITIVE_RATE,
        "alert_false_positive_rate_met": None
        if fpr is None
        else fpr < accuracy.KPI_FALSE_POSITIVE_RATE,
    }
