"""``ialr observe setup --aws``: make AWS match the desired state, idempotently.

For each kind (in creation order) read what exists, compare with the desired ``spec`` and
create or update only what differs; a second run finds everything ``unchanged`` and calls no
mutating API. ``dry_run`` reads and compares only. An endpoint override (moto, LocalStack)
that does not implement a kind's API marks that kind ``unsupported`` with a note instead of
failing the run; against AWS itself every error is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import groupby
from typing import Any

from ial_resilience.aws._session import AwsError, AwsNotFound
from ial_resilience.aws.obs_api import HANDLERS, Api
from ial_resilience.aws.obs_model import Desired, Kind

# Without an AWS error code, botocore names the HTTP status: what a partial emulator answers
# for an operation it lacks (moto: 500 NotImplementedError, or 404 for an unknown route).
_ABSENT_CODES = frozenset(
    {"404", "500", "501", "NotImplemented", "InvalidAction", "UnknownOperationException"}
)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Change:
    kind: Kind
    name: str
    action: Action
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "kind": self.kind.value,
            "name": self.name,
            "action": self.action.value,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class SetupReport:
    target: str
    dry_run: bool
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        return any(c.action in (Action.CREATE, Action.UPDATE) for c in self.changes)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    def summary(self) -> str:
        if not self.changed:
            return (
                f"nothing to change: {self.count(Action.UNCHANGED)} resources already as "
                f"desired, {self.count(Action.UNSUPPORTED)} unsupported by the endpoint"
            )
        verb = "would " if self.dry_run else ""
        created = "create" if self.dry_run else "created"
        updated = "update" if self.dry_run else "updated"
        return (
            f"{verb}{created} {self.count(Action.CREATE)}, {updated} "
            f"{self.count(Action.UPDATE)}, unchanged {self.count(Action.UNCHANGED)}, "
            f"unsupported {self.count(Action.UNSUPPORTED)}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "summary": self.summary(),
            "counts": {a.value: self.count(a) for a in Action},
            "changes": [c.as_json() for c in self.changes],
        }


def absent_api(api: Api, error: AwsError | AwsNotFound) -> bool:
    """True when an endpoint override lacks the operation (never against AWS itself)."""
    return bool(api.target.endpoint_url) and error.code in _ABSENT_CODES


def _unsupported(items: Sequence[Desired], api: Api, error: AwsError | AwsNotFound) -> list[Change]:
    note = (
        f"{api.target.endpoint_url} does not implement this API ({error.code}); "
        "the 00c phase creates it on AWS"
    )
    return [Change(item.kind, item.name, Action.UNSUPPORTED, note) for item in items]


def reconcile_kind(api: Api, items: Sequence[Desired], dry_run: bool) -> list[Change]:
    """Read, compare and (unless ``dry_run``) write every item of one kind."""
    handler = HANDLERS[items[0].kind]
    try:
        actual = handler.read(api, items)
    except (AwsError, AwsNotFound) as error:
        if absent_api(api, error):
            return _unsupported(items, api, error)
        raise
    changes: list[Change] = []
    for index, item in enumerate(items):
        found = actual.get(item.name)
        if found is not None and handler.same(item, found):
            changes.append(Change(item.kind, item.name, Action.UNCHANGED))
            continue
        action = Action.UPDATE if found is not None else Action.CREATE
        if not dry_run:
            try:
                handler.write(api, item, found)
            except (AwsError, AwsNotFound) as error:
                if not absent_api(api, error):
                    raise
                return changes + _unsupported(items[index:], api, error)
        changes.append(Change(item.kind, item.name, action))
    return changes


def reconcile(api: Api, desired: Sequence[Desired], dry_run: bool = False) -> SetupReport:
    """Bring ``api.target`` to ``desired`` (already in creation order)."""
    changes: list[Change] = []
    for _kind, group in groupby(desired, key=lambda item: item.kind):
        changes += reconcile_kind(api, list(group), dry_run)
    return SetupReport(api.target.describe(), dry_run, tuple(changes))
