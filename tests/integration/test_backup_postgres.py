"""PostgreSQL backups on a real server: round trips, PITR, missing WAL, refusals, damage."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ial_resilience.backup import snapshot
from ial_resilience.backup.drills import Heartbeat
from ial_resilience.backup.models import Compression, PhysicalFormat, SnapshotMode, SourceKind
from ial_resilience.backup.repository import LocalRepository
from ial_resilience.backup.restore import restore, start_restored
from ial_resilience.backup.sources import BackupRequest, run_backup
from ial_resilience.backup.verify import CheckStatus, verify
from ial_resilience.backup.wal import WalReceiver
from ial_resilience.cli.main import main
from ial_resilience.errors import InputError
from ial_resilience.postgres import PostgresInstance

pytestmark = pytest.mark.postgres


# PostgreSQL runs as another user under root: its directories must stay traversable, and
# pytest's own temporary root is re-chmodded 0700 by every concurrent pytest session. So the
# tests use directories of their own under /tmp.
@pytest.fixture
def tmp_path() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ialr-backup-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Lab:
    server: PostgresInstance
    repo: LocalRepository
    receiver: WalReceiver
    base: Path

    def sql(self, statement: str, db: str = "postgres") -> list[tuple[object, ...]]:
        with psycopg.connect(self.server.dsn(db), autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def flushed(self) -> None:
        lsn = self.sql("SELECT pg_current_wal_lsn()::text")[0][0]
        self.receiver.wait_flushed(str(lsn))


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    base = Path(tempfile.mkdtemp(prefix="ialr-backup-lab-"))
    server = PostgresInstance(base / "source").init().start()
    repo = LocalRepository(base / "repo")
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT system_identifier::text FROM pg_control_system()").fetchone()
        conn.execute("CREATE DATABASE shop")
    assert row is not None
    receiver = WalReceiver(server.dsn(), repo.wal_dir(row[0])).start()
    with psycopg.connect(server.dsn("shop"), autocommit=True) as conn:
        # json has no hash function: its table is checksummed through the rows' text form
        conn.execute("CREATE TABLE docs (id int, body json)")
        conn.execute(
            "INSERT INTO docs SELECT g, json_build_object('n', g) FROM generate_series(1, 50) g"
        )
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text, qty int)")
        conn.execute(
            "INSERT INTO orders (item, qty) SELECT md5(g::text), g FROM generate_series(1, 2000) g"
        )
    try:
        yield Lab(server, repo, receiver, base)
    finally:
        receiver.stop()
        server.remove()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    ("fmt", "compression"),
    [(PhysicalFormat.TAR, Compression.NONE), (PhysicalFormat.PLAIN, Compression.NONE),
     (PhysicalFormat.TAR, Compression.ZSTD)],
)  # fmt: skip
def test_physical_round_trip_and_verify(
    lab: Lab, tmp_path: Path, fmt: PhysicalFormat, compression: Compression
) -> None:
    request = BackupRequest(lab.server.dsn(), SourceKind.POSTGRES_PHYSICAL, compression, fmt)
    manifest = run_backup(lab.repo, request)
    assert manifest.wal is not None and manifest.wal.start_segment <= manifest.wal.end_segment
    assert {"shop.public.orders", "shop.public.docs"} <= {t.name for t in manifest.snapshot}
    assert "pg_basebackup" in manifest.tool_versions
    assert manifest.snapshot_exact  # nothing wrote during the backup
    report = verify(lab.repo, manifest)
    assert [(c.name, c.status) for c in report.checks] == [
        ("checksums", CheckStatus.PASSED), ("pg_verifybackup", CheckStatus.PASSED),
        ("restore", CheckStatus.PASSED)]  # fmt: skip
    if (fmt, compression) != (PhysicalFormat.TAR, Compression.NONE):
        return  # verify restored it into a scratch server already; one explicit restore below
    target = tmp_path / "restored"
    restore(lab.repo, manifest, str(target))
    restored = start_restored(target)
    try:
        assert snapshot.postgres_cluster(restored.dsn()) == list(manifest.snapshot)
    finally:
        restored.remove()


def test_writes_during_a_physical_backup_make_the_snapshot_inexact_not_a_failure(
    lab: Lab,
) -> None:
    lab.sql("CREATE TABLE ialr_heartbeat (id bigserial PRIMARY KEY, at timestamptz)", db="shop")
    writer = Heartbeat(lab.server.dsn("shop")).start()
    try:
        request = BackupRequest(lab.server.dsn(), SourceKind.POSTGRES_PHYSICAL)
        manifest = run_backup(lab.repo, request)
    finally:
        writer.stop()
    assert not manifest.snapshot_exact
    report = verify(lab.repo, manifest)
    restored = {c.name: c for c in report.checks}["restore"]
    assert restored.status in (CheckStatus.PASSED, CheckStatus.INCONCLUSIVE), restored
    assert report.passed
    lab.sql("DROP TABLE ialr_heartbeat", db="shop")


def test_logical_round_trip_and_refusal_over_an_existing_database(lab: Lab) -> None:
    request = BackupRequest(lab.server.dsn("shop"), SourceKind.POSTGRES_LOGICAL, Compression.ZSTD)
    manifest = run_backup(lab.repo, request)
    assert [f.path for f in manifest.files] == ["dump.pgdump.zst"]
    copy = lab.server.dsn("shop_copy")
    restore(lab.repo, manifest, copy)
    assert snapshot.postgres_database(copy) == list(manifest.snapshot)
    with pytest.raises(InputError, match="already exists"):
        restore(lab.repo, manifest, copy)
    lab.sql("DELETE FROM orders WHERE id < 10", db="shop_copy")
    restore(lab.repo, manifest, copy, force=True)
    assert snapshot.postgres_database(copy) == list(manifest.snapshot)
    assert verify(lab.repo, manifest).passed


@pytest.mark.parametrize("mode", [SnapshotMode.COUNTS, SnapshotMode.NONE])
def test_cheaper_snapshots_still_verify_by_restore(lab: Lab, mode: SnapshotMode) -> None:
    request = BackupRequest(lab.server.dsn("shop"), SourceKind.POSTGRES_LOGICAL, snapshot=mode)
    manifest = run_backup(lab.repo, request)
    assert manifest.snapshot_mode == mode
    if mode == SnapshotMode.COUNTS:
        rows = {t.name: t.rows for t in manifest.snapshot}
        assert rows["public.docs"] == 50 and all(t.checksum == "" for t in manifest.snapshot)
    else:
        assert manifest.snapshot == ()
    report = verify(lab.repo, manifest)
    assert report.passed
    assert {c.name: c.status for c in report.checks}["restore"] == CheckStatus.PASSED


def test_wrong_credentials_are_a_clear_input_error(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = lab.server.dsn("shop").replace("postgres@", "intruder:secret@")
    for kind in ("physical", "logical"):
        code = main(["backup", "run", dsn, "--kind", kind, "--repo", str(tmp_path / "r")])
        err = capsys.readouterr().err
        assert code == 3, err
        assert "refused the credentials" in err and "intruder" in err
        assert "secret" not in err
    assert LocalRepository(tmp_path / "r").manifests() == []


def test_pitr_between_two_writes_restores_exactly_the_first(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.sql("CREATE TABLE events (what text)", db="shop")
    backup_id = _cli_backup(lab, capsys)
    lab.sql("INSERT INTO events VALUES ('first')", db="shop")
    between = lab.sql("SELECT clock_timestamp()")[0][0]
    lab.sql("INSERT INTO events VALUES ('second')", db="shop")
    lab.flushed()
    target = tmp_path / "pitr"
    code = main(["backup", "restore", backup_id, "--repo", str(lab.repo.root),
                 "--target", str(target), "--to", between.isoformat()])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "recoverable window" in capsys.readouterr().out
    restored = start_restored(target)
    try:
        with psycopg.connect(restored.dsn("shop")) as conn:
            assert conn.execute("SELECT what FROM events").fetchall() == [("first",)]
        # the restore's target must not outlive it: a later backup of this server would carry
        # it, and restoring that backup would stop at this old target time
        auto_conf = (target / "postgresql.auto.conf").read_text()
        assert "recovery_target_time" not in auto_conf
        assert "restore_command" not in auto_conf
    finally:
        restored.remove()


def test_target_outside_the_window_states_the_window(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_id = _cli_backup(lab, capsys)
    code = main(["backup", "restore", backup_id, "--repo", str(lab.repo.root),
                 "--target", str(tmp_path / "x"), "--to", "2020-01-01T00:00:00Z"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3
    assert "outside the recoverable window" in err and " to 20" in err
    assert not (tmp_path / "x").exists()


def test_a_missing_wal_segment_is_refused_by_name(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_id = _cli_backup(lab, capsys)
    for n in range(3):
        lab.sql(f"INSERT INTO orders (item, qty) VALUES ('switch', {n})", db="shop")
        lab.sql("SELECT pg_switch_wal()")
    lab.sql("INSERT INTO orders (item, qty) VALUES ('after', 0)", db="shop")
    lab.flushed()
    copy = tmp_path / "repo"
    shutil.copytree(lab.repo.root, copy)
    manifest = LocalRepository(copy).manifest(backup_id)
    assert manifest.wal is not None
    wal_dir = copy / "wal" / manifest.wal.system_identifier
    segments = sorted(
        p.name
        for p in wal_dir.iterdir()
        if p.name > manifest.wal.end_segment and not p.name.endswith(".partial")
    )
    gone = segments[0]
    (wal_dir / gone).unlink()
    code = main(["backup", "restore", backup_id, "--repo", str(copy),
                 "--target", str(tmp_path / "y")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 5
    assert f"WAL segment {gone} is missing" in err


def test_restore_over_a_running_server_is_refused_without_force(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_id = _cli_backup(lab, capsys)
    code = main(["backup", "restore", backup_id, "--repo", str(lab.repo.root),
                 "--target", str(lab.server.data_dir)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3
    assert "is running" in err and "--force" in err
    assert lab.server.is_running()
    assert lab.sql("SELECT count(*) FROM orders", db="shop")[0][0] >= 2000


def test_a_flipped_byte_in_a_physical_backup_fails_verify(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_id = _cli_backup(lab, capsys)
    base = lab.repo.backup_dir(backup_id) / "data" / "base.tar"
    with base.open("r+b") as handle:
        handle.seek(base.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x40]))
    try:
        code = main(["backup", "verify", backup_id, "--repo", str(lab.repo.root), "--json"])
        captured = capsys.readouterr()
        assert code == 5
        assert "data/base.tar: SHA-256 differs" in captured.err
        assert '"passed": false' in captured.out
    finally:
        lab.repo.delete_backup(backup_id)


def _cli_backup(lab: Lab, capsys: pytest.CaptureFixture[str]) -> str:
    import json

    code = main(["backup", "run", lab.server.dsn(), "--repo", str(lab.repo.root), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return str(json.loads(out)["id"])
