"""The telemetry store: points, spans, events, retention, service map; bad files refused."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from ial_resilience.errors import StoreError
from ial_resilience.observability.store import Point, SpanRecord, TelemetryStore

T0 = 1_700_000_000.0


def test_points_by_selector_and_window(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    store.write_points(
        [Point("req", float(i), {"service": "a" if i % 2 else "b"}, T0 + i) for i in range(10)]
    )
    (series,) = store.points("req", {"service": "a"}, T0 + 2, T0 + 7)  # 2 < ts <= 7
    assert list(series.values) == [3.0, 5.0, 7.0] and dict(series.labels) == {"service": "a"}
    assert len(store.points("req", {}, T0, T0 + 100)) == 2
    assert store.points("nope", {}, 0, T0 * 2) == []
    assert store.metric_names() == {"req"}
    assert store.count_points() == 10


def test_retention_deletes_only_old_data(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    store.write_points([Point("m", 1.0, {}, T0 + i) for i in range(100)])
    store.write_event("deployment", {"stack": "x"}, ts=T0)
    store.write_event("deployment", {"stack": "y"}, ts=T0 + 90)
    deleted = store.retain(older_than=50, now=T0 + 100)
    assert deleted["points"] == 50 and deleted["events"] == 1
    assert store.count_points() == 50
    assert [e["attributes"]["stack"] for e in store.events()] == ["y"]


def span(trace: str, sid: str, parent: str | None, service: str, **kw: object) -> SpanRecord:
    return SpanRecord(
        trace,
        sid,
        parent,
        service,
        f"{service}-op",
        str(kw.get("kind", "server")),
        T0,
        T0 + 0.1,
        str(kw.get("status", "ok")),
        dict(kw.get("attrs", {})),
    )  # type: ignore[arg-type]


def test_service_map_from_parent_child_spans(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    store.write_spans(
        [
            span("t1", "1", None, "lb"),
            span("t1", "2", "1", "api"),
            span("t1", "3", "2", "api", kind="client", attrs={"db.system": "postgresql"}),
            span("t2", "4", None, "lb"),
            span("t2", "5", "4", "api", status="error"),
        ]
    )
    edges = [(e.source, e.target, e.calls, e.errors) for e in store.service_map()]
    assert edges == [("api", "postgresql", 1, 0), ("lb", "api", 2, 1)]
    assert [s.service for s in store.spans("t1")] == ["lb", "api", "api"]


def test_missing_store_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no telemetry store") as caught:
        TelemetryStore(tmp_path / "absent.db", create=False)
    assert "--store" in caught.value.hint
    assert not (tmp_path / "absent.db").exists()


def test_corrupt_file_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    garbage = os.urandom(4096)
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="corrupt") as caught:
        TelemetryStore(path)
    assert "never reset" in caught.value.hint
    assert path.read_bytes() == garbage


def test_damaged_pages_found_by_check(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = TelemetryStore(path)
    store.write_points([Point("m", float(i), {"k": str(i % 50)}, T0 + i) for i in range(20000)])
    store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(path.read_bytes())
    data[8192:16384] = b"\xff" * 8192  # pages 3-4
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt"):
        reopened = TelemetryStore(path)
        reopened.check()
        reopened.points("m", {}, 0, T0 * 2)


def test_locked_store_times_out_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    TelemetryStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = TelemetryStore(path, busy_timeout=0.2)
        with pytest.raises(StoreError, match=r"locked for more than 0\.2s"):
            store.write_point("m", 1.0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    TelemetryStore(path).close()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(StoreError, match="schema version 99"):
        TelemetryStore(path)
