"""``ialr alerts validate`` and ``ialr alerts eval`` through the CLI entry point."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ial_resilience.cli.main import main
from ial_resilience.observability.store import Point, TelemetryStore

RULES = """\
version: 1
rules:
  - name: queue-deep
    kind: threshold
    annotations: {summary: the queue is deep}
    expr: {function: value, metric: queue.depth, window: 1m}
    op: ">"
    value: 10
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


def test_validate_ok_and_bad(
    rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "validate", str(rules)]) == 0
    assert "OK — 1 rule(s) (threshold)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.replace('op: ">"', 'op: "=>"'))
    assert main(["alerts", "validate", str(bad)]) == 3
    err = capsys.readouterr().err
    assert f"{bad}:7:9: rules[0].op" in err and "ialr alerts validate" in err


def test_validate_against_the_store_catalog(
    rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    store.write_point("other.metric", 1.0)
    assert main(["alerts", "validate", str(rules), "--store", str(tmp_path / "t.db")]) == 3
    assert "unknown metric 'queue.depth'" in capsys.readouterr().err
    store.write_point("queue.depth", 1.0)
    assert main(["alerts", "validate", str(rules), "--store", str(tmp_path / "t.db")]) == 0


def test_eval_once_fires_and_notifies_a_file(
    rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    store.write_points([Point("queue.depth", 50.0, {}, time.time() - 1)])
    notes = tmp_path / "notes.jsonl"
    argv = ["alerts", "eval", str(rules), "--store", str(tmp_path / "t.db"), "--once"]
    assert main([*argv, "--json", "--file", str(notes)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["changes"] == [
        {
            "rule": "queue-deep",
            "labels": {"rule": "queue-deep", "severity": "warning"},
            "change": "fired",
        }
    ]
    assert document["notifications"] == 1 and document["outbox_pending"] == 0
    (note,) = [json.loads(line) for line in notes.read_text().splitlines()]
    assert note["alerts"][0]["summary"] == "the queue is deep"
    assert main(argv) == 0  # second round: still firing, nothing new
    assert capsys.readouterr().out.strip() == "firing: queue-deep"


def test_eval_bad_interval_is_invalid_input(
    rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["alerts", "eval", str(rules), "--store", str(tmp_path / "t.db"), "--interval", "x"]
    assert main(argv) == 3
    assert "--interval 'x' is not a duration" in capsys.readouterr().err


def test_silence_then_eval_sends_nothing_and_retain_deletes_old_points(
    rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = TelemetryStore(tmp_path / "t.db")
    store.write_points([Point("queue.depth", 50.0, {}, time.time() - 1)])
    store.write_points([Point("queue.depth", 1.0, {}, time.time() - 30 * 86400)])
    db = str(tmp_path / "t.db")
    argv = ["alerts", "silence", "--store", db, "--match", "rule=queue-deep", "--for", "1h"]
    assert main(argv) == 0
    assert "silence 1: rule=queue-deep for 1h" in capsys.readouterr().out
    notes = tmp_path / "notes.jsonl"
    argv = ["alerts", "eval", str(rules), "--store", db, "--once", "--json", "--retain", "7d"]
    assert main([*argv, "--file", str(notes)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["alerts"][0]["silenced"] is True and document["notifications"] == 0
    assert not notes.exists() and store.count_points() == 1
    assert main(["alerts", "silence", "--store", db, "--match", "rule"]) == 3
    assert "is not label=value" in capsys.readouterr().err
