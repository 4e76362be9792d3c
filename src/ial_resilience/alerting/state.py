"""Alert state, kept in the telemetry store: current state per (rule, group), history, silences.

State machine of one alert (one group of one rule)::

    inactive ──condition──► pending ──held ``for``──► firing ──clear──► resolved
        ▲                      │ condition gone                            │
        └──────────────────────┴───────────────────────────────────────────┘
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ial_resilience.alerting.observe import Observation
from ial_resilience.alerting.rules import Severity
from ial_resilience.observability.store import TelemetryStore, labels_key


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Change(StrEnum):
    NONE = "none"
    FIRED = "fired"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str
    group_key: str
    labels: Mapping[str, str]
    state: AlertState
    severity: Severity
    value: float | None = None
    pending_since: float | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    last_notified_at: float | None = None
    silenced: bool = False

    @property
    def firing(self) -> bool:
        return self.state is AlertState.FIRING

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "labels": dict(self.labels),
            "state": self.state.value,
            "severity": self.severity.value,
            "value": self.value,
            "fired_at": self.fired_at,
            "resolved_at": self.resolved_at,
            "silenced": self.silenced,
        }


def step(
    previous: Alert | None,
    rule: str,
    labels: Mapping[str, str],
    seen: Observation,
    hold: float,
    now: float,
) -> tuple[Alert, Change]:
    """The next state of one alert given this round's observation."""
    key = labels_key(seen.group)
    alert = previous or Alert(rule, key, labels, AlertState.INACTIVE, seen.severity)
    alert = replace(alert, value=seen.value, labels=labels, severity=seen.severity)
    if alert.state is AlertState.FIRING:
        if seen.clear:
            return replace(alert, state=AlertState.RESOLVED, resolved_at=now), Change.RESOLVED
        return alert, Change.NONE
    if not seen.condition:
        state = AlertState.RESOLVED if alert.state is AlertState.RESOLVED else AlertState.INACTIVE
        return replace(alert, state=state, pending_since=None), Change.NONE
    since = alert.pending_since if alert.state is AlertState.PENDING else now
    assert since is not None
    if now - since >= hold:
        fired = replace(
            alert, state=AlertState.FIRING, pending_since=since, fired_at=now, resolved_at=None
        )
        return fired, Change.FIRED
    return replace(alert, state=AlertState.PENDING, pending_since=since), Change.NONE


def same(alert: Alert, other: Alert | None) -> bool:
    """Equal but for the observed value (which is stored only with a state change)."""
    if other is None:
        return alert.state is AlertState.INACTIVE
    fields = ("state", "severity", "pending_since", "fired_at", "resolved_at")
    more = ("last_notified_at", "silenced", "labels")
    return all(getattr(alert, f) == getattr(other, f) for f in fields + more)


def load(store: TelemetryStore) -> dict[tuple[str, str], Alert]:
    rows = store.query(
        "SELECT rule, group_key, labels, state, severity, value, pending_since, fired_at, "
        "resolved_at, last_notified_at, silenced FROM alert_state"
    )
    return {
        (r[0], r[1]): Alert(
            r[0],
            r[1],
            json.loads(r[2]),
            AlertState(r[3]),
            Severity(r[4]),
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            bool(r[10]),
        )
        for r in rows
    }


def save(store: TelemetryStore, alerts: list[tuple[Alert, Change]]) -> None:
    """Upsert the states; fired alerts open a history row, resolved ones close it."""
    with store.transaction() as tx:
        tx.executemany(
            "INSERT OR REPLACE INTO alert_state VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    a.rule,
                    a.group_key,
                    json.dumps(dict(a.labels)),
                    a.state.value,
                    a.severity.value,
                    a.value,
                    a.pending_since,
                    a.fired_at,
                    a.resolved_at,
                    a.last_notified_at,
                    int(a.silenced),
                )
                for a, _ in alerts
            ],
        )
        for alert, change in alerts:
            if change is Change.FIRED:
                tx.execute(
                    "INSERT INTO alerts (rule, group_key, labels, severity, fired_at, value, "
                    "silenced) VALUES (?,?,?,?,?,?,?)",
                    (
                        alert.rule,
                        alert.group_key,
                        json.dumps(dict(alert.labels)),
                        alert.severity.value,
                        alert.fired_at,
                        alert.value,
                        int(alert.silenced),
                    ),
                )
            elif change is Change.RESOLVED:
                tx.execute(
                    "UPDATE alerts SET resolved_at = ? WHERE rule = ? AND group_key = ? "
                    "AND resolved_at IS NULL",
                    (alert.resolved_at, alert.rule, alert.group_key),
                )


@dataclass(frozen=True, slots=True)
class FiredAlert:
    """One firing episode from the history (``resolved_at`` None while still firing)."""

    rule: str
    labels: Mapping[str, str]
    severity: str
    fired_at: float
    resolved_at: float | None


def history(store: TelemetryStore, since: float = 0.0) -> list[FiredAlert]:
    rows = store.query(
        "SELECT rule, labels, severity, fired_at, resolved_at FROM alerts "
        "WHERE fired_at >= ? ORDER BY fired_at",
        (since,),
    )
    return [FiredAlert(r[0], json.loads(r[1]), r[2], r[3], r[4]) for r in rows]


def record_fired(store: TelemetryStore, alert: FiredAlert) -> None:
    """Insert a history row directly (imports, tests, synthetic scenarios)."""
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO alerts (rule, group_key, labels, severity, fired_at, resolved_at) "
            "VALUES (?,?,?,?,?,?)",
            (
                alert.rule,
                labels_key(alert.labels),
                json.dumps(dict(alert.labels)),
                alert.severity,
                alert.fired_at,
                alert.resolved_at,
            ),
        )


# -- silences -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    matchers: Mapping[str, str]
    starts_at: float
    ends_at: float
    comment: str

    def matches(self, labels: Mapping[str, str], now: float) -> bool:
        active = self.starts_at <= now < self.ends_at
        return active and all(labels.get(k) == v for k, v in self.matchers.items())


def add_silence(
    store: TelemetryStore,
    matchers: Mapping[str, str],
    duration: float,
    *,
    comment: str = "",
    now: float | None = None,
) -> int:
    start = time.time() if now is None else now
    with store.transaction() as tx:
        cursor = tx.execute(
            "INSERT INTO silences (matchers, starts_at, ends_at, comment) VALUES (?,?,?,?)",
            (json.dumps(dict(matchers)), start, start + duration, comment),
        )
        return int(cursor.lastrowid or 0)


def silences(store: TelemetryStore, now: float) -> list[Silence]:
    rows = store.query(
        "SELECT id, matchers, starts_at, ends_at, comment FROM silences WHERE ends_at > ?", (now,)
    )
    return [Silence(r[0], json.loads(r[1]), r[2], r[3], r[4]) for r in rows]
