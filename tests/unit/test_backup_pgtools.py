"""Pure helpers: DSN redaction, error translation, WAL segment arithmetic and continuity."""

from __future__ import annotations

from pathlib import Path

import pytest

from ial_resilience.backup.models import WalRange
from ial_resilience.backup.pgtools import (
    format_lsn,
    parse_lsn,
    redact,
    segment_from_number,
    segment_name,
    segment_number,
    translate,
)
from ial_resilience.backup.wal import check_continuity
from ial_resilience.errors import BackupError, InputError

MiB16 = 16 * 1024 * 1024


def test_redact_hides_the_password() -> None:
    assert redact("postgresql://app:s3cret@db.example:5433/shop") == (
        "postgresql://app@db.example:5433/shop"
    )
    assert "s3cret" not in redact("host=db user=app password=s3cret dbname=shop")


@pytest.mark.parametrize(
    ("text", "kind", "fragment"),
    [
        ('FATAL:  password authentication failed for user "app"', InputError, "credentials"),
        ('FATAL:  role "intruder" does not exist', InputError, "credentials"),
        ('FATAL:  database "nope" does not exist', InputError, 'database "nope" does not exist'),
        ("connection refused", BackupError, "cannot connect"),
    ],
)
def test_errors_are_translated_to_the_most_specific_one(
    text: str, kind: type[Exception], fragment: str
) -> None:
    error = translate(RuntimeError(text), "postgresql://app:pw@h:1/db", "connect")
    assert type(error) is kind
    assert fragment in str(error) and "pw" not in str(error)


def test_lsn_and_segment_arithmetic() -> None:
    lsn = parse_lsn("1/2A000028")
    assert format_lsn(lsn) == "1/2A000028"
    assert segment_name(3, lsn, MiB16) == "00000003000000010000002A"
    number = segment_number("00000003000000010000002A", MiB16)
    assert segment_from_number(3, number, MiB16) == "00000003000000010000002A"
    assert segment_from_number(1, number + 0xD6, MiB16) == "000000010000000200000000"


def _wal() -> WalRange:
    return WalRange(timeline=1, start_lsn="0/2000028", end_lsn="0/2000120",
                    start_segment="000000010000000000000002",
                    end_segment="000000010000000000000002", system_identifier="1")  # fmt: skip


def test_continuity_lists_segments_and_names_the_first_gap(tmp_path: Path) -> None:
    names = ["000000010000000000000002", "000000010000000000000003", "000000010000000000000005"]
    archived = {n: tmp_path / n for n in names}
    with pytest.raises(BackupError, match="WAL segment 000000010000000000000004 is missing"):
        check_continuity(_wal(), archived)
    archived["000000010000000000000004"] = tmp_path / "000000010000000000000004.partial"
    assert check_continuity(_wal(), archived) == sorted(archived)
