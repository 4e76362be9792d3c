"""The evaluator: every interval, observe each rule, step each alert, notify changed groups.

Grouping: alerts whose ``group_by`` labels are equal form one notification group.
Deduplication: a group is notified when one of its alerts fires or resolves, or again after
``repeat_interval`` while something still fires — never once per round. Silences stop the
firing notifications of the alerts they match; the resolved notification is still sent (so a
receiver that saw the alert elsewhere learns it cleared). State lives in the store, so a
restarted evaluator carries on where the last one stopped.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ial_resilience.alerting import state as state_mod
from ial_resilience.alerting.observe import SeriesIndex, observe
from ial_resilience.alerting.outbox import Delivery, Outbox
from ial_resilience.alerting.rules import AbsenceRule, AnyRule, RuleFile
from ial_resilience.alerting.state import Alert, AlertState, Change
from ial_resilience.errors import IalrError
from ial_resilience.observability.store import TelemetryStore, labels_key


@dataclass(frozen=True)
class Round:
    """The result of one evaluation round."""

    at: float
    alerts: tuple[Alert, ...]
    changes: tuple[tuple[Alert, Change], ...]
    notifications: tuple[dict[str, Any], ...]
    delivery: Delivery | None = None
    errors: tuple[str, ...] = field(default=())

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.firing]


def alert_labels(rule: AnyRule, group: Mapping[str, str], severity: str) -> dict[str, str]:
    return {**rule.labels, **group, "rule": rule.name, "severity": severity}


def payload(
    group: Mapping[str, str], alerts: list[Alert], rules: RuleFile, now: float
) -> dict[str, Any]:
    status = "firing" if any(a.firing for a in alerts) else "resolved"
    body = []
    for alert in alerts:
        item = alert.to_json()
        annotations = rules.rule(alert.rule).annotations
        item["annotations"] = dict(annotations)
        item["summary"] = annotations.get("summary", "")
        body.append(item)
    return {"status": status, "group": dict(group), "alerts": body, "sent_at": now}


class Evaluator:
    def __init__(
        self,
        rules: RuleFile,
        store: TelemetryStore,
        outbox: Outbox | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules
        self.store = store
        self.outbox = outbox
        self.clock = clock

    def evaluate(self, now: float | None = None) -> Round:
        """One round: observe, step, persist, enqueue notifications, deliver what is due."""
        at = self.clock() if now is None else now
        previous = state_mod.load(self.store)
        index = SeriesIndex(self.store)
        silences = state_mod.silences(self.store, at)
        changes: list[tuple[Alert, Change]] = []
        errors: list[str] = []
        with_state = {name for name, _ in previous}
        for rule in self.rules.rules:
            try:
                observations = observe(rule, index, at)
            except Exception as error:  # one broken rule never stops the others
                errors.append(f"{rule.name}: {error}")
                continue
            hold = 0.0 if isinstance(rule, AbsenceRule) else rule.for_
            for seen in observations:
                if not seen.condition and rule.name not in with_state:
                    continue  # inactive and never seen: nothing to keep
                labels = alert_labels(rule, seen.group, seen.severity.value)
                before = previous.get((rule.name, labels_key(seen.group)))
                alert, change = state_mod.step(before, rule.name, labels, seen, hold, at)
                muted = any(s.matches(labels, at) for s in silences)
                changes.append((replace(alert, silenced=muted), change))
        changes = self._stale(previous, changes, at)
        notifications, changes = self._notify(changes, at)
        state_mod.save(
            self.store,
            [
                (alert, change)
                for alert, change in changes
                if change is not Change.NONE
                or not state_mod.same(alert, previous.get((alert.rule, alert.group_key)))
            ],
        )
        delivery = None
        if self.outbox is not None:
            for item in notifications:
                self.outbox.enqueue(item, now=at)
            delivery = self.outbox.deliver_due(now=at)
        alerts = tuple(a for a, _ in changes)
        return Round(at, alerts, tuple(changes), tuple(notifications), delivery, tuple(errors))

    def _stale(
        self,
        previous: Mapping[tuple[str, str], Alert],
        changes: list[tuple[Alert, Change]],
        at: float,
    ) -> list[tuple[Alert, Change]]:
        """Firing alerts whose group no longer shows up (its series vanished) resolve."""
        seen = {(a.rule, a.group_key) for a, _ in changes}
        names = {r.name for r in self.rules.rules}
        for key, alert in previous.items():
            if key not in seen and alert.firing and alert.rule in names:
                changes.append(
                    (replace(alert, state=AlertState.RESOLVED, resolved_at=at), Change.RESOLVED)
                )
        return changes

    def _notify(
        self, changes: list[tuple[Alert, Change]], at: float
    ) -> tuple[list[dict[str, Any]], list[tuple[Alert, Change]]]:
        groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for position, (alert, _) in enumerate(changes):
            key = tuple(alert.labels.get(name, "") for name in self.rules.group_by)
            groups[key].append(position)
        notifications = []
        updated = list(changes)
        for key, positions in groups.items():
            chosen = [p for p in positions if self._include(*changes[p], at)]
            if not chosen:
                continue
            # a group notification carries every unsilenced firing alert of the group
            extra = [
                p
                for p in positions
                if p not in chosen and changes[p][0].firing and not changes[p][0].silenced
            ]
            members = sorted(chosen + extra)
            alerts = [changes[p][0] for p in members]
            group = dict(zip(self.rules.group_by, key, strict=True))
            notifications.append(payload(group, alerts, self.rules, at))
            for p in members:
                alert, change = updated[p]
                updated[p] = (replace(alert, last_notified_at=at), change)
        return notifications, updated

    def _include(self, alert: Alert, change: Change, at: float) -> bool:
        if change is Change.RESOLVED:
            return True
        if not alert.firing or alert.silenced:
            return False
        if change is Change.FIRED or alert.last_notified_at is None:
            return True
        return at - alert.last_notified_at >= self.rules.repeat_interval

    def run(
        self,
        stop: threading.Event,
        *,
        interval: float | None = None,
        on_round: Callable[[Round], None] | None = None,
        on_error: Callable[[IalrError], None] | None = None,
    ) -> None:
        """Evaluate every ``interval`` (the rule file's ``evaluate_every``) until ``stop``.

        With ``on_error`` a failed round (a busy store) is handed to it and the next round is
        tried; without it the error ends the loop."""
        every = self.rules.evaluate_every if interval is None else interval
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = self.evaluate()
            except IalrError as error:
                if on_error is None:
                    raise
                on_error(error)
            else:
                if on_round is not None:
                    on_round(result)
            stop.wait(max(0.0, every - (time.monotonic() - started)))
