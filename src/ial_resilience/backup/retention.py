"""Retention: which backups to keep (keep-last and grandfather-father-son buckets) and which
archived WAL segments no kept backup needs any more. Pure functions over timestamps and names.

Each bucket rule keeps the newest backup of each of the N most recent hours / days / ISO weeks
/ months that hold a backup. A backup kept by any rule is kept; the reasons say which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ial_resilience.backup.models import Manifest
from ial_resilience.backup.pgtools import SEGMENT_RE, segment_number

Bucket = Callable[[datetime], tuple[int, ...]]

BUCKETS: dict[str, Bucket] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
}


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    @property
    def is_empty(self) -> bool:
        return not any((self.keep_last, self.hourly, self.daily, self.weekly, self.monthly))

    def counts(self) -> dict[str, int]:
        return {"hourly": self.hourly, "daily": self.daily, "weekly": self.weekly,
                "monthly": self.monthly}  # fmt: skip


@dataclass(frozen=True)
class Decision:
    keep: dict[str, tuple[str, ...]] = field(default_factory=dict)  # id -> reasons
    remove: tuple[str, ...] = ()


def decide(policy: RetentionPolicy, backups: Sequence[tuple[str, datetime]]) -> Decision:
    """Apply ``policy`` to ``(id, time)`` pairs of one source."""
    newest_first = sorted(backups, key=lambda b: (b[1], b[0]), reverse=True)
    reasons: dict[str, list[str]] = {}
    for backup_id, _ in newest_first[: policy.keep_last]:
        reasons.setdefault(backup_id, []).append("last")
    for rule, count in policy.counts().items():
        seen: set[tuple[int, ...]] = set()
        for backup_id, when in newest_first:
            if len(seen) >= count:
                break
            bucket = BUCKETS[rule](when)
            if bucket not in seen:
                seen.add(bucket)
                reasons.setdefault(backup_id, []).append(rule)
    keep = {backup_id: tuple(r) for backup_id, r in reasons.items()}
    remove = tuple(b for b, _ in newest_first if b not in keep)
    return Decision(keep=keep, remove=remove)


def decide_repository(policy: RetentionPolicy, manifests: Iterable[Manifest]) -> Decision:
    """Apply ``policy`` per source (kind + source), so one database never evicts another."""
    groups: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    for manifest in manifests:
        groups.setdefault((manifest.kind.value, manifest.source), []).append(
            (manifest.id, manifest.started_at)
        )
    keep: dict[str, tuple[str, ...]] = {}
    remove: list[str] = []
    for members in groups.values():
        decision = decide(policy, members)
        keep.update(decision.keep)
        remove.extend(decision.remove)
    return Decision(keep=keep, remove=tuple(sorted(remove)))


def removable_wal(
    kept: Iterable[Manifest], system_identifier: str, names: Iterable[str]
) -> list[str]:
    """WAL files of one system older than the oldest kept physical backup's start segment.

    With no kept physical backup of that system nothing is removed (nothing proves it unneeded).
    """
    starts = [
        segment_number(m.wal.start_segment, m.wal.segment_size)
        for m in kept
        if m.wal is not None and m.wal.system_identifier == system_identifier
    ]
    sizes = [m.wal.segment_size for m in kept if m.wal is not None]
    if not starts:
        return []
    oldest, size = min(starts), sizes[0]
    removable = []
    for name in names:
        match = SEGMENT_RE.match(name)
        if match and segment_number(match.group(1), size) < oldest:
            removable.append(name)
    return sorted(removable)
