"""``ialr ci`` for real: a tiny lab (a web process answering 200, behind one agent link),
one 1-second latency experiment, real load; the JUnit XML and the summary are read back.
The only real suite run of the ci/schedule tests (about 8 s)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from ial_resilience.cli.main import main
from ial_resilience.history import HistoryStore, RecordKind
from ial_resilience.lab import Lab
from ial_resilience.schedule.scheduler import suite_lock

pytestmark = pytest.mark.timeout(120)

SYSTEM = """\
version: 1
name: tiny
ports: {web: 0}
links:
  client->web: {listen: "127.0.0.1:0", upstream: "127.0.0.1:${ports.web}", http: true}
processes:
  web:
    command: ["${python}", "WEB", "${ports.web}"]
    health: "http://127.0.0.1:${ports.web}/"
exports: {lb: "http://${links.client->web}"}
"""
WEB = """\
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Ok(BaseHTTPRequestHandler):
    def answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = answer

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""
EXPERIMENT = """\
version: 1
title: Web answers through 20 ms latency
environment: lab
targets: {web: {link: client->web}}
steady_state:
  - probe: {http: {url: "${lb}/"}}
    samples: 3
    every: 100ms
    tolerance: {success_rate: ">= 1"}
method:
  - {fault: network.latency, target: web, with: {latency: 20ms}, duration: 1s}
recovery: {within: 5s}
"""
SUITE = """\
version: 1
title: Tiny CI suite
experiments:
  - path: latency.yaml
schedule: {cron: "0 3 * * *"}
"""


@pytest.fixture(scope="module")
def tiny_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    base = tmp_path_factory.mktemp("tiny-lab")
    (base / "web.py").write_text(WEB)
    (base / "system.yaml").write_text(SYSTEM.replace("WEB", str(base / "web.py")))
    (base / "latency.yaml").write_text(EXPERIMENT)
    (base / "suite.yaml").write_text(SUITE)
    lab = Lab(base / "state")
    lab.up(base / "system.yaml", timeout=60)
    try:
        yield base, base / "state"
    finally:
        assert lab.down() == []


def test_ci_runs_the_suite_writes_junit_and_summary_and_gates_on_the_score(
    tiny_lab: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, state = tiny_lab
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    junit = tmp_path / "out" / "junit.xml"
    code = main(
        [
            "ci",
            str(base / "suite.yaml"),
            "--state-dir",
            str(state),
            "--rate",
            "5",
            "--alert-drain",
            "0s",
            "--output",
            str(tmp_path / "report"),
            "--junit",
            str(junit),
            "--gate",
            "--min-score",
            "90",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 7, captured.out + captured.err  # held, but the score is below 90
    result = json.loads(captured.out)
    assert result["suite_exit_code"] == 0 and result["exit_code"] == 7
    gate = result["gate"]
    # the score's own formula: 1/1 runs passed, recovered, but 1 of 8 fault families covered
    assert gate["passed"] is False and gate["score"] is not None and gate["score"] < 90
    assert {p["name"] for p in gate["parts"]} >= {"outcomes", "coverage"}
    assert "below --min-score 90" in gate["reasons"][0]
    with HistoryStore.open() as store:  # this run was recorded (IALR_HISTORY of the test)
        (day,) = store.records(kind=RecordKind.GAMEDAY)
    assert (day.key, day.status) == ("tiny-ci-suite", "passed")
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case is not None and case.attrib["name"] == "Web answers through 20 ms latency"
    assert case.find("failure") is None and float(case.attrib["time"]) >= 1.0
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "✅ passed" in summary and "Tiny CI suite — exit 7" in summary
    assert "Deploy gate failed" in summary
    assert step_summary.read_text().startswith("earlier step\n## Chaos suite: Tiny CI suite")
    assert (tmp_path / "report" / "report.json").is_file()


def test_ci_refuses_while_another_suite_holds_the_lock(
    tiny_lab: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, state = tiny_lab
    with suite_lock(state, "a scheduled suite"):
        code = main(
            [
                "ci",
                str(base / "suite.yaml"),
                "--state-dir",
                str(state),
                "--output",
                str(tmp_path / "r"),
            ]
        )
    assert code == 4
    assert "another run holds the lock" in capsys.readouterr().err


def test_ci_with_a_missing_suite_file_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ci", str(tmp_path / "nope.yaml"), "--output", str(tmp_path / "r")])
    assert code == 3
    assert "no suite file" in capsys.readouterr().err
