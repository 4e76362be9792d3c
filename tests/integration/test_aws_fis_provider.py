"""``ialr chaos run|stop|cleanup --provider aws`` against the session moto server over HTTP.

moto models FIS templates, tags, the experiment state machine and StopExperiment; it injects
nothing (no ECS task is slowed or stopped). By default it jumps from ``pending`` straight to
``completed``; these tests set its state manager to ``time`` (one state per second) so that
``initiating``, ``running``, ``stopping`` and ``stopped`` are seen as on AWS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
import pytest

from ial_resilience.aws._session import AwsTarget, client
from ial_resilience.aws.fis_provider import KEY_TAG, AwsProvider
from ial_resilience.aws.fis_scope import load_scope
from ial_resilience.cli.main import main
from ial_resilience.engine.ledger import Ledger, LedgerEvent
from ial_resilience.engine.model import PlannedFault
from ial_resilience.report.summary import evidence_headline
from ial_resilience.spec import load_experiment
from tests.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.aws
Capture = pytest.CaptureFixture[str]
ACCOUNT = "123456789012"


def experiment_text(moto: str, title: str, duration: str = "1s") -> str:
    address = urlsplit(moto).netloc
    return f"""\
version: 1
title: {title}
environment: staging
targets:
  db-link: {{link: api->db}}
steady_state:
  - probe: {{tcp: {{address: "{address}"}}}}
    samples: 2
    every: 50ms
    tolerance: {{success_rate: ">= 1"}}
method:
  - fault: network.latency
    target: db-link
    with: {{latency: 200ms}}
    duration: {duration}
recovery: {{within: 5s, every: 50ms}}
"""


def scope_text(role: str) -> str:
    return f"""\
version: 1
role_arn: {role}
links:
  api->db: {{tags: {{service: api}}, port: 5432}}
"""


@pytest.fixture
def fis_one_state_per_second(moto_endpoint: str) -> Iterator[None]:  # noqa: F811
    """moto's FIS experiments advance one state per second while the test runs."""
    url = f"{moto_endpoint}/moto-api/state-manager"
    body = {"model_name": "fis::experiment", "transition": {"progression": "time", "seconds": 1}}
    httpx.post(f"{url}/set-transition", json=body, timeout=5).raise_for_status()
    yield
    httpx.post(f"{url}/unset-transition", json={"model_name": "fis::experiment"}, timeout=5)


@pytest.fixture
def fis_world(
    aws_env: AwsTarget,  # noqa: F811
    tmp_path: Path,
    fis_one_state_per_second: None,
) -> dict[str, object]:
    name = f"ialr-fis-{tmp_path.name[-12:]}".replace("_", "-")
    with_role = client("iam", aws_env).create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "fis.amazonaws.com"}}]}
        ),
    )  # fmt: skip
    scope = tmp_path / "scope.yaml"
    scope.write_text(scope_text(with_role["Role"]["Arn"]))
    return {"target": aws_env, "scope": scope, "role": with_role["Role"]["Arn"], "tmp": tmp_path}


def run_cli(capsys: Capture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_records_fis_states_and_stops_at_the_end(fis_world: dict, capsys: Capture) -> None:
    target: AwsTarget = fis_world["target"]  # type: ignore[assignment]
    tmp: Path = fis_world["tmp"]  # type: ignore[assignment]
    file = tmp / "exp.yaml"
    file.write_text(experiment_text(str(target.endpoint_url), "FIS latency end to end", "500ms"))
    code, out, err = run_cli(
        capsys, "chaos", "run", str(file), "--provider", "aws", "--scope", str(fis_world["scope"]),
        "--endpoint-url", str(target.endpoint_url), "--state-dir", str(tmp / "state"),
        "--journal", str(tmp / "journal.json"), "--json",
        "--stop-alarms-from", "default", "--alarm-environment", "fistest",
    )  # fmt: skip
    assert code == 0, out + err
    journal = json.loads((tmp / "journal.json").read_text())
    (fault,) = journal["faults"]
    assert fault["mechanism"] == "aws:ecs:task-network-latency"
    evidence = fault["evidence"]
    states = [s["status"] for s in evidence["states"]]
    assert states[:3] == ["pending", "initiating", "running"] and states[-1] == "stopped", states
    assert "stopping" in states and evidence["stop_seen_s"] >= 0
    headline = evidence_headline(fault)
    assert headline.startswith(f"landed: FIS experiment {evidence['experiment_id']}: pending →")
    seen = client("fis", target).get_experiment(id=evidence["experiment_id"])["experiment"]
    assert seen["state"]["status"] == "stopped"
    assert seen["tags"][KEY_TAG] == fault["key"]
    # guardrails on AWS's side: alarms compiled from the alert rules, created in CloudWatch
    stops = {c["value"] for c in seen["stopConditions"]}
    assert f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:ialr-fistest-alb-5xx" in stops
    assert any("slo-api-availability-1h-5m" in arn for arn in stops)
    assert len(stops) == 5 and all(
        c["source"] == "aws:cloudwatch:alarm" for c in seen["stopConditions"]
    )
    # the template was deleted once the experiment ended
    templates = client("fis", target).list_experiment_templates()["experimentTemplates"]
    assert evidence["template_id"] not in {t["id"] for t in templates}


def _apply_one(fis_world: dict, title: str) -> tuple[AwsProvider, str, object]:
    target: AwsTarget = fis_world["target"]  # type: ignore[assignment]
    tmp: Path = fis_world["tmp"]  # type: ignore[assignment]
    file = tmp / f"{title.replace(' ', '-')}.yaml"
    file.write_text(experiment_text(str(target.endpoint_url), title, duration="30s"))
    experiment = load_experiment(file)
    provider = AwsProvider(load_scope(fis_world["scope"]), target, poll=0.1)  # type: ignore[arg-type]
    provider.resolve_targets(experiment)
    step = experiment.method[0]
    run_id = f"run-{tmp.name[-8:]}"
    planned = PlannedFault(0, f"{run_id}-s0", step.fault, step.target, "", {}, 0.0, 30.0,
                           params_model=step.params)  # fmt: skip
    return provider, run_id, provider.apply(planned)


def test_stop_by_run_id_and_a_second_run_is_refused(fis_world: dict, capsys: Capture) -> None:
    target: AwsTarget = fis_world["target"]  # type: ignore[assignment]
    provider, run_id, applied = _apply_one(fis_world, "Stop me from outside")
    try:
        file = fis_world["tmp"] / "Stop-me-from-outside.yaml"  # type: ignore[operator]
        code, out, err = run_cli(
            capsys, "chaos", "run", str(file), "--provider", "aws", "--scope",
            str(fis_world["scope"]), "--endpoint-url", str(target.endpoint_url),
            "--state-dir", str(fis_world["tmp"]),
        )  # fmt: skip
        assert code == 4, out + err
        assert "is still running" in err and "ialr chaos stop" in err
        code, out, err = run_cli(
            capsys, "chaos", "stop", run_id, "--json", "--endpoint-url", str(target.endpoint_url)
        )
        assert code == 0, out + err
        (stopped,) = json.loads(out)["stopped"]
        assert stopped["experiment_id"] == applied.handles[0]  # type: ignore[attr-defined]
        assert stopped["states"][-1] == "stopped"
        # the run's follower sees that FIS stopped it without being asked by the run
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                provider.check_alive()
            except Exception as error:
                assert "FIS stopped experiment" in str(error)
                break
            time.sleep(0.05)
        else:
            pytest.fail("check_alive never reported the stopped experiment")
    finally:
        provider.close()


def test_cleanup_stops_what_a_crashed_run_left(fis_world: dict, capsys: Capture) -> None:
    target: AwsTarget = fis_world["target"]  # type: ignore[assignment]
    state = fis_world["tmp"] / "state"  # type: ignore[operator]
    provider, run_id, applied = _apply_one(fis_world, "Crash mid run")
    provider.close()
    ledger = Ledger(state, run_id)
    key = applied.planned.key  # type: ignore[attr-defined]
    ledger.write(LedgerEvent.INTENT, key, fault="network.latency", target="db-link",
                 provider="aws", expires_at=time.time() + 30)  # fmt: skip
    ledger.write(LedgerEvent.APPLIED, key, handles=list(applied.handles), mechanism="x")  # type: ignore[attr-defined]
    ledger.close()
    code, out, err = run_cli(
        capsys, "chaos", "cleanup", "--json", "--state-dir", str(state),
        "--endpoint-url", str(target.endpoint_url),
    )  # fmt: skip
    assert code == 0, out + err
    report = json.loads(out)
    assert report["results"][0]["reverted"] == [applied.handles[0]]  # type: ignore[attr-defined]
    seen = client("fis", target).get_experiment(id=applied.handles[0])["experiment"]  # type: ignore[attr-defined]
    assert seen["state"]["status"] == "stopped"
    code, out, err = run_cli(capsys, "chaos", "cleanup", "--state-dir", str(state))
    assert code == 0 and "nothing to clean up" in out


def test_missing_role_and_unknown_experiment(fis_world: dict, capsys: Capture) -> None:
    target: AwsTarget = fis_world["target"]  # type: ignore[assignment]
    tmp: Path = fis_world["tmp"]  # type: ignore[assignment]
    scope = tmp / "no-role.yaml"
    scope.write_text(scope_text(f"arn:aws:iam::{ACCOUNT}:role/ialr-no-such-role"))
    file = tmp / "exp.yaml"
    file.write_text(experiment_text(str(target.endpoint_url), "No role"))
    code, out, err = run_cli(
        capsys, "chaos", "run", str(file), "--provider", "aws", "--scope", str(scope),
        "--endpoint-url", str(target.endpoint_url), "--state-dir", str(tmp),
    )  # fmt: skip
    assert code == 3, out + err
    assert "ialr-no-such-role does not exist" in err and "phase 00e" in err
    code, out, err = run_cli(
        capsys, "chaos", "stop", "no-such-experiment", "--endpoint-url", str(target.endpoint_url)
    )
    assert code == 3 and "no-such-experiment" in err, out + err


class _Throttler(BaseHTTPRequestHandler):
    """Answers the first ``left`` requests 429 ThrottlingException, forwards the rest."""

    upstream = ""
    left = 0
    seen: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        cls = type(self)
        if cls.left > 0:
            cls.left -= 1
            cls.seen.append(429)
            payload = json.dumps({"message": "Rate exceeded"}).encode()
            self.send_response(429)
            self.send_header("x-amzn-ErrorType", "ThrottlingException")
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        answer = httpx.request(self.command, cls.upstream + self.path, headers=headers,
                               content=body, timeout=10)  # fmt: skip
        cls.seen.append(answer.status_code)
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_throttling_is_retried_with_backoff(
    aws_env: AwsTarget,  # noqa: F811
    capsys: Capture,
    tmp_path: Path,
) -> None:
    _Throttler.upstream, _Throttler.left, _Throttler.seen = str(aws_env.endpoint_url), 2, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proxy = f"http://127.0.0.1:{server.server_address[1]}"
        code, out, err = run_cli(capsys, "chaos", "stop", "never-started", "--endpoint-url", proxy)
    finally:
        server.shutdown()
        server.server_close()
    # two throttled answers, then the retried ListExperiments went through to moto
    assert _Throttler.seen[:3] == [429, 429, 200], _Throttler.seen
    assert code == 3 and "never-started" in err, out + err


def test_unreachable_endpoint_exits_5(
    aws_env: AwsTarget,  # noqa: F811
    capsys: Capture,
) -> None:
    code, out, err = run_cli(
        capsys, "chaos", "stop", "x", "--endpoint-url", "http://127.0.0.1:9", "--timeout", "1"
    )
    assert code == 5, out + err
    assert "nothing answers at http://127.0.0.1:9" in err and "--endpoint-url" in err


def test_ctrl_c_stops_the_fis_experiment(fis_world: dict) -> None:
    target: AwsTarget = fis_world["target"]  # type: ignore[assignment]
    tmp: Path = fis_world["tmp"]  # type: ignore[assignment]
    file = tmp / "exp.yaml"
    file.write_text(experiment_text(str(target.endpoint_url), "Interrupted on FIS", "60s"))
    journal = tmp / "journal.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "ial_resilience.cli.main", "chaos", "run", str(file),
         "--provider", "aws", "--scope", str(fis_world["scope"]),
         "--endpoint-url", str(target.endpoint_url), "--state-dir", str(tmp / "state"),
         "--journal", str(journal)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ), text=True,
    )  # fmt: skip
    fis = client("fis", target)
    try:
        deadline = time.monotonic() + 30
        running = None
        while running is None and time.monotonic() < deadline:
            for summary in fis.list_experiments()["experiments"]:
                tags = summary.get("tags") or {}
                if tags.get("ialr:experiment") == "Interrupted-on-FIS":
                    running = summary["id"]
            time.sleep(0.1)
        assert running, "the run never started its FIS experiment"
        time.sleep(0.3)  # let apply return (the fault is then in the engine's active set)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, output
    document = json.loads(journal.read_text())
    assert document["complete"] is False
    assert any(e["kind"] == "interrupted" for e in document["events"])
    (fault,) = document["faults"]
    assert fault["revert_reason"] == "interrupted"
    assert fault["evidence"]["states"][-1]["status"] == "stopped"
    assert fis.get_experiment(id=running)["experiment"]["state"]["status"] == "stopped"


def test_a_local_guardrail_breach_stops_the_fis_experiment(
    fis_world: dict, capsys: Capture
) -> None:
    target: AwsTarget = fis_world["target"]  # type: ignore[assignment]
    tmp: Path = fis_world["tmp"]  # type: ignore[assignment]
    breach = tmp / "breach"
    text = experiment_text(str(target.endpoint_url), "Guardrail on FIS", "60s")
    text = text.replace(
        "recovery:",
        f'guardrails:\n  - probe: {{command: {{argv: [test, "!", -e, "{breach}"]}}}}\n'
        '    every: 100ms\n    window: 300ms\n    tolerance: {success_rate: ">= 1"}\nrecovery:',
    )
    file = tmp / "guarded.yaml"
    file.write_text(text)
    fis = client("fis", target)

    def breach_once_running() -> None:  # the guardrail fails only once FIS runs the fault
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for summary in fis.list_experiments()["experiments"]:
                tags = summary.get("tags") or {}
                mine = tags.get("ialr:experiment") == "Guardrail-on-FIS"
                if mine and summary["state"]["status"] == "running":
                    time.sleep(0.3)  # apply has returned: the fault is active
                    breach.touch()
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=breach_once_running, daemon=True)
    watcher.start()
    code, out, err = run_cli(
        capsys, "chaos", "run", str(file), "--provider", "aws", "--scope", str(fis_world["scope"]),
        "--endpoint-url", str(target.endpoint_url), "--state-dir", str(tmp / "state"),
        "--journal", str(tmp / "journal.json"), "--json",
    )  # fmt: skip
    watcher.join(timeout=5)
    assert code == 2, out + err  # aborted
    (fault,) = json.loads((tmp / "journal.json").read_text())["faults"]
    assert fault["revert_reason"] == "guardrail"
    experiment_id = fault["evidence"]["experiment_id"]
    seen = fis.get_experiment(id=experiment_id)["experiment"]
    assert seen["state"]["status"] == "stopped"
