"""Recovery drills: a real disaster on a real PostgreSQL, a real restore, RTO and RPO measured.

Every drill starts a source server with an application table (``orders``) and a heartbeat
table written every ~50 ms, streams its WAL into a repository with ``pg_receivewal
--synchronous``, takes a base backup, then causes its disaster:

- ``dropped-table``: ``DROP TABLE orders`` → point-in-time recovery to just before the drop;
- ``writer-lost``: the server dies (immediate stop) and its data directory is deleted →
  restore from the base backup + all streamed WAL;
- ``corruption``: bytes flipped in the table's data file, detected by data checksums when
  the application reads it → restore from base backup + WAL.

RTO: from the disaster (for corruption: its detection) until the restored server answers the
application's query. RPO: time of the last heartbeat committed before the disaster minus the
newest heartbeat in the restored database. The data check compares ``orders`` (row count and
content checksum) with its state just before the disaster.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import psycopg
from pydantic import BaseModel, ConfigDict

from ial_resilience import history
from ial_resilience.agent.state import recovery_history_dir
from ial_resilience.backup import restore as restoring
from ial_resilience.backup.models import Manifest, PhysicalFormat, SourceKind, TableSnapshot
from ial_resilience.backup.repository import LocalRepository
from ial_resilience.backup.snapshot import postgres_tables
from ial_resilience.backup.sources import BackupRequest, run_backup
from ial_resilience.backup.wal import WalReceiver
from ial_resilience.errors import BackupError, InputError
from ial_resilience.postgres import PostgresInstance, run_pg_tool

Step = Callable[[str], None]
RTO_TARGET_S = 15 * 60.0
RPO_TARGET_S = 1.0
HEARTBEAT_EVERY_S = 0.05


def _quiet(_: str) -> None:
    return None


class Scenario(StrEnum):
    DROPPED_TABLE = "dropped-table"
    WRITER_LOST = "writer-lost"
    CORRUPTION = "corruption"


class DrillStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class DrillResult(BaseModel):
    """One drill's measured outcome, as recorded in the history."""

    model_config = ConfigDict(frozen=True)

    scenario: Scenario
    started_at: datetime
    status: DrillStatus
    rto_s: float | None
    rpo_s: float | None
    rto_target_s: float = RTO_TARGET_S
    rpo_target_s: float = RPO_TARGET_S
    data_ok: bool = False
    database_bytes: int = 0
    wal_segments: int = 0
    last_write_at: datetime | None = None  # last heartbeat committed before the disaster
    restored_newest_at: datetime | None = None  # newest heartbeat in the restored database
    writes_lost: int | None = None  # committed heartbeats missing after the restore
    steps: dict[str, float] = {}
    detail: str = ""
    lab: bool = False  # drilled on the lab, under the load generator's traffic
    restore_s: float | None = None  # the drill's own restore time (files + recovery + start)


def history_dir(state: Path | None = None) -> Path:
    return recovery_history_dir(state)


def record(result: DrillResult, directory: Path | None = None) -> Path:
    directory = directory or history_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = result.started_at.strftime("%Y%m%dT%H%M%S%fZ")
    where = "lab-" if result.lab else ""
    path = directory / f"{stamp}-{where}{result.scenario.value}.json"
    path.write_text(result.model_dump_json(indent=2))
    history.save([history.record_drill(result.model_dump(mode="json"), path)])
    return path


def latest_results(
    directory: Path | None = None, *, lab: bool = False
) -> dict[Scenario, DrillResult]:
    """The newest recorded result of each scenario (the lab's drills with ``lab=True``)."""
    directory = directory or history_dir()
    found: dict[Scenario, DrillResult] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            result = DrillResult.model_validate_json(path.read_text())
        except ValueError:
            continue
        if result.lab == lab:
            found[result.scenario] = result
    return found


# -- the drill's application -------------------------------------------------------------
class Heartbeat:
    """A writer committing one row every ~50 ms; remembers the last committed heartbeat."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.committed: list[datetime] = []
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ialr-heartbeat", daemon=True)

    def start(self, *, timeout: float = 10.0) -> Heartbeat:
        self._thread.start()
        self.wait_beats(3, timeout=timeout)
        return self

    def wait_beats(self, count: int, *, timeout: float = 10.0) -> None:
        target = self.beats + count
        deadline = time.monotonic() + timeout
        while self.beats < target and time.monotonic() < deadline and self._thread.is_alive():
            self._stop.wait(0.01)
        if self.beats < target:
            raise BackupError("the drill's heartbeat writer is not committing")

    def _run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                while not self._stop.is_set():
                    row = conn.execute(
                        "INSERT INTO ialr_heartbeat (at) VALUES (clock_timestamp()) RETURNING at"
                    ).fetchone()
                    if row is not None:
                        self.committed.append(row[0])
                        self.beats += 1
                    self._stop.wait(HEARTBEAT_EVERY_S)
        except psycopg.Error:
            return  # the server went away: that is the disaster

    @property
    def last_committed(self) -> datetime | None:
        return self.committed[-1] if self.committed else None

    def committed_until(self, moment: datetime | None) -> list[datetime]:
        return [at for at in self.committed if moment is None or at <= moment]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _create_application(dsn: str, rows: int, pgbench_scale: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text, qty int)")
        conn.execute(
            "INSERT INTO orders (item, qty) "
            "SELECT md5(g::text), g %% 7 FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("CREATE TABLE ialr_heartbeat (id bigserial PRIMARY KEY, at timestamptz)")
    if pgbench_scale:
        run_pg_tool(["pgbench", "-i", "-q", "-s", str(pgbench_scale), dsn], timeout=3600)


def _orders(dsn: str) -> TableSnapshot:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        return next(t for t in postgres_tables(conn) if t.name == "public.orders")


def _app_check(dsn: str) -> None:
    """The drill's application health check: can it read its orders?"""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT count(*) FROM orders").fetchone()


def _newest_heartbeat(dsn: str) -> datetime | None:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT max(at) FROM ialr_heartbeat").fetchone()
    return None if row is None else row[0]


# -- the drill's stage ---------------------------------------------------------------------
@dataclass
class _Stage:
    work: Path
    source: PostgresInstance
    repo: LocalRepository
    receiver: WalReceiver
    heartbeat: Heartbeat
    steps: dict[str, float] = field(default_factory=dict)
    database_bytes: int = 0

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(time.monotonic() - started, 3)


@contextmanager
def _stage(rows: int, pgbench_scale: int, on_step: Step) -> Iterator[_Stage]:
    work = Path(tempfile.mkdtemp(prefix="ialr-drill-"))
    source = PostgresInstance(work / "source")
    restored = PostgresInstance(work / "restored")
    receiver: WalReceiver | None = None
    heartbeat: Heartbeat | None = None
    try:
        on_step("starting the source database")
        source.init().start()
        _create_application(source.dsn(), rows, pgbench_scale)
        with psycopg.connect(source.dsn(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT system_identifier::text, pg_database_size('postgres') "
                "FROM pg_control_system()"
            ).fetchone()
        assert row is not None
        repo = LocalRepository(work / "repo")
        receiver = WalReceiver(source.dsn(), repo.wal_dir(row[0])).start()
        heartbeat = Heartbeat(source.dsn()).start()
        stage = _Stage(work, source, repo, receiver, heartbeat, database_bytes=int(row[1]))
        yield stage
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        if receiver is not None:
            receiver.stop()
        restored.remove()
        source.remove()
        shutil.rmtree(work, ignore_errors=True)


def _backup(stage: _Stage, on_step: Step) -> Manifest:
    on_step("base backup")
    with stage.timed("base_backup"):
        request = BackupRequest(stage.source.dsn(), SourceKind.POSTGRES_PHYSICAL,
                                format=PhysicalFormat.TAR)  # fmt: skip
        manifest = run_backup(stage.repo, request)
    stage.heartbeat.wait_beats(5)
    return manifest


def _restore_and_measure(
    stage: _Stage,
    manifest: Manifest,
    disaster_at: float,
    target: datetime | None,
    on_step: Step,
) -> tuple[float, PostgresInstance, int]:
    data = stage.work / "restored"
    on_step("restoring")
    with stage.timed("restore_files"):
        result = restoring.restore_physical(stage.repo, manifest, data, target=target)
    on_step("recovering")
    with stage.timed("recovery_and_start"):
        instance = restoring.start_restored(data)
    _app_check(instance.dsn())
    return time.monotonic() - disaster_at, instance, result.wal_segments


def _finish(
    scenario: Scenario,
    started: datetime,
    stage: _Stage,
    outcome: tuple[float, PostgresInstance, int],
    last_beat: datetime | None,
    before: TableSnapshot,
) -> DrillResult:
    rto, instance, segments = outcome
    after = _orders(instance.dsn())
    newest = _newest_heartbeat(instance.dsn())
    rpo, lost = None, None
    if last_beat is not None and newest is not None:
        rpo = max(0.0, (last_beat - newest).total_seconds())
        lost = sum(1 for at in stage.heartbeat.committed_until(last_beat) if at > newest)
    data_ok = after == before
    passed = data_ok and rto < RTO_TARGET_S and rpo is not None and rpo <= RPO_TARGET_S
    detail = "orders identical to before the disaster" if data_ok else (
        f"orders differ: {after.rows} rows after, {before.rows} before")  # fmt: skip
    return DrillResult(
        scenario=scenario,
        started_at=started,
        status=DrillStatus.PASSED if passed else DrillStatus.FAILED,
        rto_s=round(rto, 3),
        rpo_s=None if rpo is None else round(rpo, 3),
        data_ok=data_ok,
        database_bytes=stage.database_bytes,
        wal_segments=segments,
        last_write_at=last_beat,
        restored_newest_at=newest,
        writes_lost=lost,
        steps=stage.steps,
        detail=detail,
    )


# -- scenarios ---------------------------------------------------------------------------
def _dropped_table(stage: _Stage, started: datetime, on_step: Step) -> DrillResult:
    manifest = _backup(stage, on_step)
    dsn = stage.source.dsn()
    before = _orders(dsn)
    on_step("disaster: DROP TABLE orders")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        just_before: datetime = row[0]
        conn.execute("DROP TABLE orders")
        disaster_at = time.monotonic()
        last_beat = stage.heartbeat.last_committed
        lsn_row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert lsn_row is not None
    stage.receiver.wait_flushed(lsn_row[0])
    stage.heartbeat.stop()
    outcome = _restore_and_measure(stage, manifest, disaster_at, just_before, on_step)
    return _finish(Scenario.DROPPED_TABLE, started, stage, outcome, last_beat, before)


def _writer_lost(stage: _Stage, started: datetime, on_step: Step) -> DrillResult:
    manifest = _backup(stage, on_step)
    before = _orders(stage.source.dsn())
    on_step("disaster: the writer dies and its data directory is lost")
    disaster_at = time.monotonic()
    stage.source.stop(mode="immediate")
    last_beat = stage.heartbeat.last_committed
    stage.heartbeat.stop()
    # the data directory is gone (moved aside at once; deleted with the drill's work dir)
    stage.source.data_dir.rename(stage.work / "lost-data-directory")
    stage.receiver.stop()
    outcome = _restore_and_measure(stage, manifest, disaster_at, None, on_step)
    return _finish(Scenario.WRITER_LOST, started, stage, outcome, last_beat, before)


def _corruption(stage: _Stage, started: datetime, on_step: Step) -> DrillResult:
    manifest = _backup(stage, on_step)
    dsn = stage.source.dsn()
    before = _orders(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute("SELECT pg_relation_filepath('orders')").fetchone()
        assert row is not None
    on_step("disaster: bytes flipped in the orders table's data file")
    stage.source.stop(mode="fast")
    last_beat = stage.heartbeat.last_committed
    stage.heartbeat.stop()
    stage.receiver.stop()
    flip_bytes(stage.source.data_dir / row[0], offset=4096, count=16)
    stage.source.start()
    disaster_at = time.monotonic()
    detected = detect_corruption(dsn)
    stage.source.stop(mode="immediate")
    outcome = _restore_and_measure(stage, manifest, disaster_at, None, on_step)
    result = _finish(Scenario.CORRUPTION, started, stage, outcome, last_beat, before)
    if detected is None:
        return result.model_copy(update={"status": DrillStatus.FAILED,
                                         "detail": "the corruption was not detected"})  # fmt: skip
    return result.model_copy(update={"detail": f"detected: {detected}; {result.detail}"})


def flip_bytes(path: Path, *, offset: int, count: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        data = handle.read(count)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in data))


def detect_corruption(dsn: str) -> str | None:
    """Read every row the way the application would; data checksums report a damaged page."""
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT sum(hashtext(o::text)) FROM orders o").fetchone()
    except psycopg.errors.DataCorrupted as error:
        return str(error).strip().splitlines()[0]
    except psycopg.Error as error:
        return f"read failed: {str(error).strip().splitlines()[0]}"
    return None


_SCENARIOS: dict[Scenario, Callable[[_Stage, datetime, Step], DrillResult]] = {
    Scenario.DROPPED_TABLE: _dropped_table,
    Scenario.WRITER_LOST: _writer_lost,
    Scenario.CORRUPTION: _corruption,
}


def parse_scenario(text: str) -> Scenario:
    try:
        return Scenario(text)
    except ValueError:
        known = ", ".join(s.value for s in Scenario)
        raise InputError(f"unknown recovery scenario {text!r}; expected one of {known}") from None


def run_drill(
    scenario: Scenario, *, rows: int = 10_000, pgbench_scale: int = 0, on_step: Step = _quiet
) -> DrillResult:
    """Run one drill end to end; everything it starts is stopped and removed afterwards."""
    started = datetime.now(UTC)
    with _stage(rows, pgbench_scale, on_step) as stage:
        return _SCENARIOS[scenario](stage, started, on_step)
