"""Four writer processes at once into one store lose no point."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from ial_resilience.observability.store import Point, TelemetryStore

WRITERS = 4
BATCHES = 50
PER_BATCH = 200


def write(path: str, writer: int) -> None:
    store = TelemetryStore(path)
    for batch in range(BATCHES):
        store.write_points(
            Point(
                "load.requests",
                1.0,
                {"writer": str(writer), "n": str(i % 7)},
                1_700_000_000.0 + batch + i / PER_BATCH,
            )
            for i in range(PER_BATCH)
        )
    store.close()


def test_four_processes_write_concurrently_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    TelemetryStore(path).close()  # created once; the writers open it
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=write, args=(str(path), w)) for w in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    store = TelemetryStore(path, create=False)
    assert store.count_points() == WRITERS * BATCHES * PER_BATCH
    for writer in range(WRITERS):
        series = store.points("load.requests", {"writer": str(writer)}, 0, 2e9)
        assert sum(len(s.values) for s in series) == BATCHES * PER_BATCH
        assert len(series) == 7
