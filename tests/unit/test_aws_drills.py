"""Pure parts of the AWS drills: content fingerprints, the recoverable window, audit rules,
and the history record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ial_resilience.aws import s3_audit
from ial_resilience.aws.dynamodb import Fingerprint, PitrStatus, fingerprint
from ial_resilience.aws.dynamodb_drill import check_window
from ial_resilience.aws.history import DrillResult, record
from ial_resilience.aws.s3 import Versioning, backup_lifecycle_rule, replication_rule
from ial_resilience.errors import InputError, StoreError

Item = dict[str, dict[str, Any]]
ITEMS: list[Item] = [
    {"id": {"S": "1"}, "tags": {"SS": ["b", "a"]}, "blob": {"B": b"\x00\x01"}},
    {"id": {"S": "2"}, "n": {"N": "42"}, "m": {"M": {"x": {"L": [{"N": "1"}, {"BOOL": True}]}}}},
    {"id": {"S": "3"}, "nums": {"NS": ["3", "1"]}, "bins": {"BS": [b"z", b"a"]}},
]


@given(st.permutations(ITEMS))
def test_fingerprint_ignores_item_order(items: list[Item]) -> None:
    assert fingerprint(iter(items)) == fingerprint(iter(ITEMS))


def test_fingerprint_ignores_set_order_but_not_list_order() -> None:
    base: Item = {"id": {"S": "1"}, "s": {"SS": ["a", "b"]}, "l": {"L": [{"S": "a"}, {"S": "b"}]}}
    set_swapped = {**base, "s": {"SS": ["b", "a"]}}
    list_swapped = {**base, "l": {"L": [{"S": "b"}, {"S": "a"}]}}
    assert fingerprint(iter([base])) == fingerprint(iter([set_swapped]))
    assert fingerprint(iter([base])) != fingerprint(iter([list_swapped]))


def test_fingerprint_sees_a_changed_missing_or_duplicated_item() -> None:
    reference = fingerprint(iter(ITEMS))
    changed: list[Item] = [ITEMS[0], {**ITEMS[1], "n": {"N": "43"}}, ITEMS[2]]
    assert fingerprint(iter(changed)).sha256 != reference.sha256
    assert fingerprint(iter(ITEMS[:2])) != reference
    doubled = fingerprint(iter([*ITEMS, ITEMS[0]]))
    assert doubled.items == 4 and doubled.sha256 != reference.sha256


def test_empty_table_has_a_fixed_fingerprint() -> None:
    assert fingerprint(iter([])) == Fingerprint(items=0, sha256="0" * 64)


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_restore_point_before_the_window_states_the_window() -> None:
    status = PitrStatus("orders", True, NOW - timedelta(days=1), NOW - timedelta(minutes=5), 35)
    with pytest.raises(InputError) as caught:
        check_window(status, NOW - timedelta(days=2))
    assert "2026-11-24T12:00:00.000Z to 2026-11-25T11:55:00.000Z" in caught.value.message
    check_window(status, NOW)  # newer than latest: AWS is asked again until it is restorable


def test_drill_refuses_a_table_without_pitr() -> None:
    with pytest.raises(InputError) as caught:
        check_window(PitrStatus("orders", False, None, None, None), NOW)
    assert "ialr backup aws enable-pitr orders" in caught.value.hint


def test_lifecycle_findings() -> None:
    assert s3_audit.lifecycle_findings([backup_lifecycle_rule(30, 7)]) == []
    disabled = {**backup_lifecycle_rule(30, 7), "Status": "Disabled"}
    assert s3_audit.lifecycle_findings([disabled]) == [
        s3_audit.Finding.NO_NONCURRENT_EXPIRATION,
        s3_audit.Finding.NO_ABORT_MULTIPART,
    ]


def test_lifecycle_days_must_be_positive() -> None:
    with pytest.raises(InputError, match="≥ 1"):
        backup_lifecycle_rule(0, 7)


def test_replication_findings() -> None:
    with_rtc = {"Rules": [replication_rule("dst")]}
    rule = replication_rule("dst")
    rule["Destination"] = {"Bucket": "arn:aws:s3:::dst"}
    without_rtc = {"Rules": [rule]}
    assert s3_audit.replication_findings(with_rtc, required=True) == []
    assert s3_audit.replication_findings(None, required=False) == []
    assert s3_audit.replication_findings(None, required=True) == [s3_audit.Finding.NO_REPLICATION]
    assert s3_audit.replication_findings(without_rtc, required=True) == [
        s3_audit.Finding.REPLICATION_WITHOUT_RTC
    ]


def test_versioning_findings() -> None:
    assert s3_audit.versioning_findings(Versioning.ENABLED) == []
    assert s3_audit.versioning_findings(Versioning.OFF) == [s3_audit.Finding.VERSIONING_OFF]
    assert s3_audit.versioning_findings(Versioning.SUSPENDED) == [
        s3_audit.Finding.VERSIONING_SUSPENDED
    ]


def test_replication_required_by_tag_or_pattern() -> None:
    policy = s3_audit.AuditPolicy(("prod-*",))
    assert policy.needs_replication("prod-data", {})
    assert policy.needs_replication("dev-data", {"ialr:replication": "Required"})
    assert not policy.needs_replication("dev-data", {"ialr:replication": "no"})


def _result() -> DrillResult:
    return DrillResult("aws-test", "2026-11-25T12:00:00.000Z", 1.5, 0.0, True, {"k": 1})


def test_record_writes_the_shared_fields(tmp_path: Path) -> None:
    path = record(_result(), tmp_path / "history" / "recovery")
    assert path.name == "20261125T120000000000Z-aws-test.json"
    saved = json.loads(path.read_text())
    assert {
        k: saved[k] for k in ("scenario", "started", "rto_s", "rpo_s", "passed", "details")
    } == {
        "scenario": "aws-test",
        "started": "2026-11-25T12:00:00.000Z",
        "rto_s": 1.5,
        "rpo_s": 0.0,
        "passed": True,
        "details": {"k": 1},
    }
    # the local drills' names, so one history reader can list both
    assert saved["started_at"] == saved["started"] and saved["status"] == "passed"
    assert not list(path.parent.glob("*.tmp"))


def test_record_into_an_unwritable_place_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="Not a directory") as caught:
        record(_result(), blocker / "recovery")
    assert "IALR_STATE_DIR" in caught.value.hint


def test_a_restored_table_that_differs_fails_the_drill() -> None:
    from ial_resilience.aws._session import AwsTarget
    from ial_resilience.aws.dynamodb_drill import DrillOptions, _result

    status = PitrStatus("orders", True, NOW - timedelta(days=1), NOW - timedelta(minutes=5), 35)
    source = fingerprint(iter(ITEMS))
    restored = fingerprint(iter(ITEMS[:2]))
    result = _result("orders", "orders-scratch", NOW, status, NOW, source, restored,
                     restore_s=2.0, verify_s=0.1, window_wait_s=0.0, opts=DrillOptions(),
                     target=AwsTarget(region="us-east-1"))  # fmt: skip
    assert not result.passed and result.details["content_matches"] is False
    assert result.details["items_source"] == 3 and result.details["items_restored"] == 2
    assert result.rpo_s == 300.0  # the latest restorable time trailed the start by 5 minutes
