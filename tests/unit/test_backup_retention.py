"""Retention on a synthetic calendar of backups: pure functions, no repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ial_resilience.backup.models import Manifest, SourceKind, WalRange
from ial_resilience.backup.retention import (
    RetentionPolicy,
    decide,
    decide_repository,
    removable_wal,
)

START = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


def calendar(every: timedelta, count: int) -> list[tuple[str, datetime]]:
    return [(f"b{i:04d}", START + i * every) for i in range(count)]


def test_keep_last_keeps_the_newest() -> None:
    backups = calendar(timedelta(hours=1), 10)
    decision = decide(RetentionPolicy(keep_last=3), backups)
    assert sorted(decision.keep) == ["b0007", "b0008", "b0009"]
    assert len(decision.remove) == 7 and "b0000" in decision.remove


def test_daily_keeps_the_newest_backup_of_each_of_the_last_days() -> None:
    backups = calendar(timedelta(hours=6), 4 * 30)  # 4 a day for 30 days
    decision = decide(RetentionPolicy(daily=7), backups)
    kept = sorted(decision.keep)
    assert len(kept) == 7
    # each kept backup is the 18:30 one (the newest of its day), on the last 7 days
    times = dict(backups)
    assert {times[k].hour for k in kept} == {18}
    assert {times[k].day for k in kept} == set(range(24, 31))


def test_gfs_rules_combine_and_say_why() -> None:
    backups = calendar(timedelta(days=1), 120)  # daily for 4 months
    decision = decide(RetentionPolicy(keep_last=2, daily=3, weekly=4, monthly=3), backups)
    newest = backups[-1][0]
    assert set(decision.keep[newest]) == {"last", "daily", "weekly", "monthly"}
    times = dict(backups)
    monthly = [k for k, r in decision.keep.items() if "monthly" in r]
    assert sorted((times[k].month, times[k].day) for k in monthly) == [(2, 28), (3, 31), (4, 30)]
    weekly = [k for k, r in decision.keep.items() if "weekly" in r]
    assert len(weekly) == 4 and all(
        times[k].isocalendar()[2] == 7 or k == newest for k in weekly
    )  # Sundays end ISO weeks
    assert len(decision.keep) + len(decision.remove) == 120


def test_hourly_ignores_hours_without_backups() -> None:
    backups = [
        ("a", START),
        ("b", START + timedelta(hours=5)),
        ("c", START + timedelta(hours=5, minutes=10)),
    ]
    decision = decide(RetentionPolicy(hourly=2), backups)
    assert sorted(decision.keep) == ["a", "c"]
    assert decision.remove == ("b",)


@given(
    st.lists(st.integers(min_value=0, max_value=24 * 400), min_size=0, max_size=60, unique=True),
    st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5),
)  # fmt: skip
def test_every_backup_is_kept_or_removed_never_both(
    hours: list[int], last: int, hourly: int, daily: int, weekly: int, monthly: int
) -> None:
    backups = [(f"h{h}", START + timedelta(hours=h)) for h in hours]
    policy = RetentionPolicy(last, hourly, daily, weekly, monthly)
    decision = decide(policy, backups)
    assert set(decision.keep) | set(decision.remove) == {b for b, _ in backups}
    assert not set(decision.keep) & set(decision.remove)
    assert len(decision.keep) <= last + hourly + daily + weekly + monthly
    if backups and not policy.is_empty:
        newest = max(backups, key=lambda b: b[1])[0]
        assert newest in decision.keep


def _manifest(backup_id: str, source: str, when: datetime, start_segment: str) -> Manifest:
    wal = WalRange(timeline=1, start_lsn="0/0", end_lsn="0/0", start_segment=start_segment,
                   end_segment=start_segment, system_identifier="42")  # fmt: skip
    return Manifest(id=backup_id, kind=SourceKind.POSTGRES_PHYSICAL, source=source,
                    started_at=when, ended_at=when, files=(), wal=wal)  # fmt: skip


def test_each_source_is_pruned_on_its_own() -> None:
    manifests = [
        _manifest("a1", "db-a", START, "000000010000000000000001"),
        _manifest("a2", "db-a", START + timedelta(hours=1), "000000010000000000000003"),
        _manifest("b1", "db-b", START, "000000010000000000000001"),
    ]
    decision = decide_repository(RetentionPolicy(keep_last=1), manifests)
    assert sorted(decision.keep) == ["a2", "b1"]
    assert decision.remove == ("a1",)


def test_wal_needed_by_a_kept_backup_is_never_removed() -> None:
    kept = [_manifest("k", "db", START, "000000010000000000000005")]
    names = [f"0000000100000000000000{n:02X}" for n in range(1, 9)] + [
        "000000010000000000000009.partial"
    ]
    assert removable_wal(kept, "42", names) == [
        "000000010000000000000001",
        "000000010000000000000002",
        "000000010000000000000003",
        "000000010000000000000004",
    ]
    assert removable_wal(kept, "other-system", names) == []
    assert removable_wal([], "42", names) == []
