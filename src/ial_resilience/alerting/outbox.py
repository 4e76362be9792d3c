"""The outbox: every notification is written to the store first, then delivered.

One row per (notification, notifier). A delivery that fails stays in the outbox with
``attempts`` and ``next_attempt_at`` (exponential backoff, capped); it is never dropped.
A row is claimed before sending (its ``next_attempt_at`` moved past a lease in one
``UPDATE … WHERE next_attempt_at <= now``), so two evaluators never send the same row twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ial_resilience.alerting.notifiers import DeliveryFailed, Notifier
from ial_resilience.observability.store import TelemetryStore

LEASE_S = 30.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one :meth:`Outbox.deliver_due` round did."""

    delivered: int
    failed: int
    pending: int
    errors: tuple[str, ...] = ()


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after ``attempts`` failures: base × 2^(attempts−1), at most ``cap``."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


class Outbox:
    def __init__(
        self,
        store: TelemetryStore,
        notifiers: Sequence[Notifier],
        *,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
    ) -> None:
        self.store = store
        self.notifiers = {n.name: n for n in notifiers}
        self.base_delay = base_delay
        self.max_delay = max_delay

    def enqueue(self, payload: Mapping[str, Any], *, now: float | None = None) -> int:
        """Write one row per notifier; returns how many."""
        at = time.time() if now is None else now
        body = json.dumps(dict(payload), default=str)
        with self.store.transaction() as tx:
            tx.executemany(
                "INSERT INTO outbox (notifier, payload, created_at, next_attempt_at) "
                "VALUES (?, ?, ?, ?)",
                [(name, body, at, at) for name in self.notifiers],
            )
        return len(self.notifiers)

    def _claim(self, now: float) -> list[tuple[int, str, str, int]]:
        with self.store.transaction() as tx:
            rows = tx.execute(
                "SELECT id, notifier, payload, attempts FROM outbox "
                "WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id",
                (now,),
            ).fetchall()
            ids = [(r[0],) for r in rows]
            tx.executemany(
                "UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                [(now + LEASE_S, i) for (i,) in ids],
            )
        return [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    def deliver_due(self, *, now: float | None = None) -> Delivery:
        """Try every due row once; failures are rescheduled with backoff."""
        at = time.time() if now is None else now
        delivered, errors = 0, []
        for row_id, name, body, attempts in self._claim(at):
            notifier = self.notifiers.get(name)
            try:
                if notifier is None:
                    raise DeliveryFailed(f"no notifier {name!r} is configured in this process")
                notifier.send(json.loads(body))
            except DeliveryFailed as error:
                errors.append(error.message)
                self._reschedule(row_id, attempts + 1, error.message, at)
                continue
            except Exception as error:  # a bug in a notifier never loses a notification
                errors.append(repr(error))
                self._reschedule(row_id, attempts + 1, repr(error), at)
                continue
            self._mark_delivered(row_id, attempts + 1, at)
            delivered += 1
        return Delivery(delivered, len(errors), self.pending(), tuple(errors))

    def _reschedule(self, row_id: int, attempts: int, error: str, now: float) -> None:
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                (attempts, now + backoff(attempts, self.base_delay, self.max_delay), error, row_id),
            )

    def _mark_delivered(self, row_id: int, attempts: int, now: float) -> None:
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE outbox SET attempts = ?, delivered_at = ?, last_error = NULL WHERE id = ?",
                (attempts, now, row_id),
            )

    def pending(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")[0][0])

    def rows(self) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT id, notifier, attempts, next_attempt_at, delivered_at, last_error FROM outbox "
            "ORDER BY id"
        )
        keys = ("id", "notifier", "attempts", "next_attempt_at", "delivered_at", "last_error")
        return [dict(zip(keys, r, strict=True)) for r in rows]
