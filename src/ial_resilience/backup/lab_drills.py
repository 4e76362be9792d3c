"""Recovery drills on the lab, while the load generator runs: the RTO is what users saw.

``run_lab_drills`` uses the lab of the state dir (starting it, and stopping it afterwards
unless ``keep_lab``), starts the load generator against the lab's LB (its own process,
recording every request into ``<state>/recovery-lab/<stamp>/telemetry.db``), then per
scenario, against the lab's *current* writer (the server behind ``api->db``):

1. streams its WAL into a fresh repository (``pg_receivewal --synchronous``), takes a base
   backup, starts a heartbeat writer (one committed row every ~50 ms) and lets traffic write;
2. causes the disaster while users keep sending requests:

   - ``dropped-table``: ``DROP TABLE orders`` on the writer → PITR to just before the DROP;
     the mistaken writer is stopped (fast) before the restored one takes its port;
   - ``writer-lost``: the postmaster is SIGKILLed and its data directory moved away → base
     backup + every streamed WAL segment;
   - ``corruption``: the writer is stopped, 16 bytes of the orders table's first page are
     flipped, the writer started again and the damage detected by data checksums (a full
     read of ``orders``); the damaged writer is stopped → base backup + WAL;

3. restores into a new data directory, starts it on the writer's port, registers it with the
   agent as ``db-primary`` and repoints ``api->db`` to it (connections reset), so the API
   replicas reconnect through the same address. The streaming replica is left out: the drill
   is about the backup, not failover (it stays on the old timeline, unused).

RTO: from the disaster (for corruption: the moment the writer was stopped, when users' trouble
began) until the first ``POST /orders`` sent after it succeeded, read from the load
generator's records. ``restore_s`` is the drill's own restore time (files, WAL replay, start).
RPO: the last heartbeat committed before the disaster minus the newest one in the restored
database (read through ``api->db``). The data check: every order committed before the
disaster's mark is present after the restore (read through ``api->db``).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from ial_resilience.agent.client import AgentClient
from ial_resilience.backup import restore as restoring
from ial_resilience.backup.drills import (
    RPO_TARGET_S,
    RTO_TARGET_S,
    DrillResult,
    DrillStatus,
    Heartbeat,
    Scenario,
    Step,
    detect_corruption,
    flip_bytes,
)
from ial_resilience.backup.lab_stage import (
    LabWriter,
    current_writer,
    kill_writer,
    reseed_replica,
    take_over,
    wait_first_write_after,
    wait_port_free,
)
from ial_resilience.backup.models import Manifest, PhysicalFormat, SnapshotMode, SourceKind
from ial_resilience.backup.repository import LocalRepository
from ial_resilience.backup.sources import BackupRequest, run_backup
from ial_resilience.backup.wal import WalReceiver
from ial_resilience.errors import BackupError, IalrError
from ial_resilience.gameday.traffic import LoadgenProcess
from ial_resilience.lab import Lab, LabInfo

LOAD_RATE = 50.0  # requests/s; the default mix sends one POST /orders in five
LAB_UP_TIMEOUT_S = 90.0
FIRST_WRITE_TIMEOUT_S = 60.0
_RESTORED = re.compile(r"db-r(\d+)(?:-lost-\d+)?$")
TRAFFIC_BEATS = 20  # heartbeats (~1 s) of traffic between the backup and the disaster


def _quiet(_: str) -> None:
    return None


@dataclass
class LabDrillContext:
    """What every lab drill shares; ``writer`` changes as drills replace it."""

    info: LabInfo
    agent: AgentClient
    work: Path
    store: Path
    writer: LabWriter
    on_step: Step = _quiet

    @property
    def link_dsn(self) -> str:
        """The application's DSN: through ``api->db``."""
        return self.info.exports["db_dsn"]


@dataclass
class _Prepared:
    repo: LocalRepository
    receiver: WalReceiver
    heartbeat: Heartbeat
    manifest: Manifest
    database_bytes: int
    steps: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Disaster:
    wall: float  # unix time users' trouble began
    last_beat: datetime | None  # the last heartbeat committed before it
    mark: tuple[int, int]  # orders (count, max id) committed before it
    target: datetime | None = None  # PITR target, None = all the WAL
    fence: bool = False  # the old writer still runs and must be stopped before the restore
    detail: str = ""


# -- preparing: WAL streaming, base backup, traffic ------------------------------------------
def _identity(dsn: str) -> tuple[str, int]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ialr_heartbeat "
                     "(id bigserial PRIMARY KEY, at timestamptz)")  # fmt: skip
        row = conn.execute(
            "SELECT system_identifier::text, pg_database_size('postgres') FROM pg_control_system()"
        ).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def _prepare(ctx: LabDrillContext, scenario: Scenario) -> _Prepared:
    dsn = ctx.writer.dsn()
    repo = LocalRepository(ctx.work / scenario.value / "repo")
    system_id, size = _identity(dsn)
    ctx.on_step("WAL streaming")
    receiver = WalReceiver(dsn, repo.wal_dir(system_id)).start()
    try:
        heartbeat = Heartbeat(dsn).start()
        ctx.on_step("base backup")
        started = time.monotonic()
        request = BackupRequest(dsn, SourceKind.POSTGRES_PHYSICAL, format=PhysicalFormat.TAR,
                                snapshot=SnapshotMode.COUNTS)  # fmt: skip
        manifest = run_backup(repo, request)
        took = round(time.monotonic() - started, 3)
        ctx.on_step("traffic writes orders")
        heartbeat.wait_beats(TRAFFIC_BEATS)
    except BaseException:
        receiver.stop()
        raise
    return _Prepared(repo, receiver, heartbeat, manifest, size, {"base_backup": took})


def _mark(dsn: str) -> tuple[int, int]:
    """Orders committed so far: (count, newest id)."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*), coalesce(max(id), 0) FROM orders").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# -- disasters -------------------------------------------------------------------------------
def _drop_table(ctx: LabDrillContext, prepared: _Prepared) -> _Disaster:
    dsn = ctx.writer.dsn()
    mark = _mark(dsn)
    ctx.on_step("disaster: DROP TABLE orders")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        conn.execute("DROP TABLE orders")
        wall = time.time()
        last_beat = prepared.heartbeat.last_committed
        lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert lsn is not None
    prepared.receiver.wait_flushed(str(lsn[0]))
    return _Disaster(wall, last_beat, mark, target=row[0], fence=True)


def _lose_writer(ctx: LabDrillContext, prepared: _Prepared) -> _Disaster:
    mark = _mark(ctx.writer.dsn())
    ctx.on_step("disaster: the writer is SIGKILLed and its data directory lost")
    wall = time.time()
    kill_writer(ctx.writer)
    last_beat = prepared.heartbeat.last_committed
    data = ctx.writer.data_dir
    data.rename(data.with_name(f"{data.name}-lost-{time.time_ns()}"))
    return _Disaster(wall, last_beat, mark)


def _corrupt(ctx: LabDrillContext, prepared: _Prepared) -> _Disaster:
    writer = ctx.writer
    mark = _mark(writer.dsn())
    with psycopg.connect(writer.dsn(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute("SELECT pg_relation_filepath('orders')").fetchone()
    assert row is not None
    ctx.on_step("disaster: bytes flipped in the orders table's data file")
    wall = time.time()
    writer.instance.stop(mode="fast")
    last_beat = prepared.heartbeat.last_committed
    flip_bytes(writer.data_dir / str(row[0]), offset=4096, count=16)
    restarted = writer.instance.start()
    ctx.writer = take_over(ctx.agent, writer, restarted)  # `lab down` stops it if we fail
    detected = detect_corruption(writer.dsn())
    writer.instance.stop(mode="immediate")
    if detected is None:
        raise BackupError("the corruption of the orders table was not detected")
    return _Disaster(wall, last_beat, mark, detail=f"detected: {detected}")


_DISASTERS: dict[Scenario, Callable[[LabDrillContext, _Prepared], _Disaster]] = {
    Scenario.DROPPED_TABLE: _drop_table,
    Scenario.WRITER_LOST: _lose_writer,
    Scenario.CORRUPTION: _corrupt,
}


# -- restoring and measuring -----------------------------------------------------------------
def new_data_dir(lab_dir: Path) -> Path:
    """``db-r1``, ``db-r2`` … (after any earlier one, lost ones included): short, because the
    server's socket path (``.NAME.run/…``) must fit in 107 bytes under a long state dir."""
    taken = [int(m.group(1)) for p in lab_dir.iterdir() if (m := _RESTORED.match(p.name))]
    return lab_dir / f"db-r{max(taken, default=0) + 1}"


def _restore(ctx: LabDrillContext, prepared: _Prepared, disaster: _Disaster) -> tuple[int, float]:
    """Restore into a new directory on the writer's port and make it the lab's writer;
    returns the WAL segments replayed and the wall time the restored writer took over."""
    prepared.heartbeat.stop()
    prepared.receiver.stop()
    data = new_data_dir(ctx.writer.data_dir.parent)
    ctx.on_step("restoring")
    started = time.monotonic()
    result = restoring.restore_physical(prepared.repo, prepared.manifest, data,
                                        target=disaster.target)  # fmt: skip
    prepared.steps["restore_files"] = round(time.monotonic() - started, 3)
    if disaster.fence:
        ctx.on_step("stopping the mistaken writer")
        ctx.writer.instance.stop(mode="fast")
    wait_port_free(ctx.writer.port)
    ctx.on_step("recovering")
    recovering = time.monotonic()
    instance = restoring.start_restored(data, port=ctx.writer.port)
    try:
        ctx.writer = take_over(ctx.agent, ctx.writer, instance)
    except BaseException:
        instance.stop(mode="immediate")
        raise
    took_over = time.time()
    prepared.steps["recovery_and_start"] = round(time.monotonic() - recovering, 3)
    prepared.steps["restore"] = round(time.monotonic() - started, 3)
    shutil.rmtree(restoring.wal_stage_dir(data), ignore_errors=True)
    return result.wal_segments, took_over


def _restored_state(dsn: str, mark: tuple[int, int]) -> tuple[datetime | None, int]:
    """Newest heartbeat and orders (up to the mark's id) in the restored database."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        beat = conn.execute("SELECT max(at) FROM ialr_heartbeat").fetchone()
        orders = conn.execute("SELECT count(*) FROM orders WHERE id <= %s", (mark[1],)).fetchone()
    assert beat is not None and orders is not None
    return beat[0], int(orders[0])


def _measure(
    ctx: LabDrillContext,
    scenario: Scenario,
    started: datetime,
    prepared: _Prepared,
    disaster: _Disaster,
    segments: int,
    took_over: float,
) -> DrillResult:
    # Recovered = users' writes served by the restored writer: the first successful write
    # sent after the take-over. Writes the damaged writer still served in between (a corrupt
    # page not yet touched) do not end the outage: their data lives on a server being replaced.
    ctx.on_step("waiting for users' first successful write")
    first_write = wait_first_write_after(ctx.store, took_over, FIRST_WRITE_TIMEOUT_S)
    rto = first_write - disaster.wall
    newest, orders = _restored_state(ctx.link_dsn, disaster.mark)
    rpo, lost = None, None
    if disaster.last_beat is not None and newest is not None:
        rpo = max(0.0, (disaster.last_beat - newest).total_seconds())
        lost = sum(1 for at in prepared.heartbeat.committed_until(disaster.last_beat)
                   if at > newest)  # fmt: skip
    data_ok = orders >= disaster.mark[0]
    passed = data_ok and rto < RTO_TARGET_S and rpo is not None and rpo <= RPO_TARGET_S
    check = (f"all {disaster.mark[0]} orders committed before the disaster present"
             if data_ok else f"{orders} of {disaster.mark[0]} orders present")  # fmt: skip
    return DrillResult(
        scenario=scenario, started_at=started,
        status=DrillStatus.PASSED if passed else DrillStatus.FAILED,
        rto_s=round(rto, 3), rpo_s=None if rpo is None else round(rpo, 3), data_ok=data_ok,
        database_bytes=prepared.database_bytes, wal_segments=segments,
        last_write_at=disaster.last_beat, restored_newest_at=newest, writes_lost=lost,
        steps=prepared.steps, restore_s=prepared.steps.get("restore"), lab=True,
        detail="; ".join(d for d in (disaster.detail, check, "writes served through api->db")
                         if d),
    )  # fmt: skip


def run_lab_drill(ctx: LabDrillContext, scenario: Scenario) -> DrillResult:
    """One drill on the running lab; a failure is a FAILED result, never an exception."""
    started = datetime.now(UTC)
    prepared: _Prepared | None = None
    try:
        prepared = _prepare(ctx, scenario)
        disaster = _DISASTERS[scenario](ctx, prepared)
        segments, took_over = _restore(ctx, prepared, disaster)
        return _measure(ctx, scenario, started, prepared, disaster, segments, took_over)
    except (IalrError, psycopg.Error) as error:
        message = error.message if isinstance(error, IalrError) else str(error).strip()
        return DrillResult(scenario=scenario, started_at=started, status=DrillStatus.FAILED,
                           rto_s=None, rpo_s=None, lab=True,
                           detail=f"lab drill failed: {message}")  # fmt: skip
    finally:
        if prepared is not None:
            prepared.heartbeat.stop()
            prepared.receiver.stop()
            shutil.rmtree(prepared.repo.root, ignore_errors=True)


# -- the whole run ---------------------------------------------------------------------------
def run_lab_drills(
    scenarios: list[Scenario],
    *,
    state_dir: Path | None = None,
    keep_lab: bool = False,
    rate: float = LOAD_RATE,
    on_step: Step = _quiet,
) -> list[DrillResult]:
    """Run ``scenarios`` on the lab under traffic; the lab is stopped afterwards if this
    started it (unless ``keep_lab``), else left running with the restored writer."""
    lab = Lab(state_dir)
    started_lab = not lab.is_running()
    if started_lab:
        on_step("starting the lab")
        info = lab.up(timeout=LAB_UP_TIMEOUT_S)
    else:
        info = lab.require()
    keep = keep_lab or not started_lab
    try:
        return _with_traffic(lab, info, scenarios, rate, on_step, reseed=keep)
    finally:
        if started_lab and not keep_lab:
            on_step("stopping the lab")
            lab.down()


def _with_traffic(
    lab: Lab,
    info: LabInfo,
    scenarios: list[Scenario],
    rate: float,
    on_step: Step,
    *,
    reseed: bool,
) -> list[DrillResult]:
    work = lab.state_dir / "recovery-lab" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work.mkdir(parents=True, exist_ok=True)
    store = work / "telemetry.db"
    loadgen = LoadgenProcess(url=info.exports["lb"], rate=rate, store=store, workdir=work)
    with AgentClient.from_state_dir(lab.state_dir, timeout=10.0) as agent:
        on_step("starting the load generator")
        loadgen.start()
        try:
            loadgen.wait_for_traffic(TRAFFIC_BEATS)
            writer = current_writer(agent, info.exports["db_primary_dsn"])
            ctx = LabDrillContext(info, agent, work, store, writer, on_step)
            results = [run_lab_drill(ctx, scenario) for scenario in scenarios]
        finally:
            loadgen.stop()
        if reseed and ctx.writer != writer:
            results[-1] = _with_replica(ctx, results[-1])
    return results


def _with_replica(ctx: LabDrillContext, last: DrillResult) -> DrillResult:
    """The lab stays: rebuild its replica from the restored writer, say so in the result."""
    ctx.on_step("rebuilding the replica from the restored writer")
    if reseed_replica(ctx.agent, ctx.writer):
        return last.model_copy(update={"detail": f"{last.detail}; replica rebuilt"})
    note = "the replica did not stream again from the restored writer (`ialr lab logs db-replica`)"
    return last.model_copy(update={"detail": f"{last.detail}; {note}"})
