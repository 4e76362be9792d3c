"""``ialr chaos render|parity|validate --provider aws`` and the AWS options of ``chaos run``,
through the CLI entry point (nothing here talks to AWS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ial_resilience.aws.fis_parity import parity_rows, render_markdown
from ial_resilience.cli.main import main
from ial_resilience.faults.vocabulary import FAULTS

ROOT = Path(__file__).parents[2]
SCOPE = ROOT / "examples" / "aws-scope.yaml"
LIBRARY = ROOT / "chaos"
Capture = pytest.CaptureFixture[str]


def run_cli(capsys: Capture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_render_one_file_prints_its_template(capsys: Capture) -> None:
    file = LIBRARY / "network" / "db-latency.yaml"
    code, out, err = run_cli(capsys, "chaos", "render", str(file), "--scope", str(SCOPE))
    assert code == 0, err
    body = json.loads(out)
    assert body["roleArn"] == "arn:aws:iam::123456789012:role/ialr-fis-ecs"
    (action,) = body["actions"].values()
    assert action["actionId"] == "aws:ecs:task-network-latency"
    assert body["logConfiguration"]["logSchemaVersion"] == 2


def test_render_the_library_names_every_refusal(capsys: Capture) -> None:
    code, out, err = run_cli(
        capsys, "chaos", "render", str(LIBRARY), "--provider", "aws", "--scope", str(SCOPE),
        "--stop-alarm", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx",
    )  # fmt: skip
    assert code == 3
    templates = json.loads(out)
    assert str(LIBRARY / "network" / "db-latency.yaml") in templates
    assert all(
        t["stopConditions"][0]["source"] == "aws:cloudwatch:alarm" for t in templates.values()
    )
    refused = [line for line in err.splitlines() if "which has no FIS action" in line]
    assert any(
        line.startswith(f"{LIBRARY}/application/replica-5xx.yaml:22:12:") for line in refused
    )
    assert any("lb-health-check-fail.yaml" in line for line in refused)


def test_render_unknown_target_and_bad_scope(capsys: Capture, tmp_path: Path) -> None:
    scope = tmp_path / "scope.yaml"
    scope.write_text("version: 1\nrole_arn: arn:aws:iam::123456789012:role/r\nlinks: {}\n")
    file = LIBRARY / "network" / "db-latency.yaml"
    code, out, err = run_cli(capsys, "chaos", "render", str(file), "--scope", str(scope))
    assert code == 3 and out == ""
    assert f"{file}:11:3: targets.db-link: found link 'api->db', which the scope" in err
    scope.write_text("version: 1\nlinks:\n  api->db: {tags: {service: api}, prot: 1}\n")
    code, out, err = run_cli(capsys, "chaos", "render", str(file), "--scope", str(scope))
    assert code == 3 and f"{scope}:3:35: links.api->db.prot: found unknown key 'prot'" in err
    code, out, err = run_cli(capsys, "chaos", "render", str(file))
    assert code == 3 and "render needs --scope FILE" in err
    code, out, err = run_cli(capsys, "chaos", "render", str(file), "--provider", "local")
    assert code == 3 and "only --provider aws" in err
    scope.write_text("version: 1\nlinks:\n  api->db: {tags: {service: api}}\n")
    code, out, err = run_cli(capsys, "chaos", "render", str(file), "--scope", str(scope))
    assert code == 3 and "no IAM role" in err and "--role-arn" in err


def test_run_options_are_checked_before_anything_runs(capsys: Capture, tmp_path: Path) -> None:
    file = str(LIBRARY / "network" / "db-latency.yaml")
    code, _out, err = run_cli(capsys, "chaos", "run", file, "--scope", str(SCOPE))
    assert code == 3 and "--scope only apply to --provider aws" in err
    code, _out, err = run_cli(capsys, "chaos", "run", file, "--provider", "aws")
    assert code == 3 and "needs --scope FILE" in err


def test_validate_with_provider_aws(capsys: Capture) -> None:
    files = [
        str(LIBRARY / "application" / "replica-5xx.yaml"),
        str(LIBRARY / "network" / "db-latency.yaml"),
    ]
    variables = [arg for name in ("loadgen", "lb", "replica.api-1", "control")
                 for arg in ("--var", f"{name}=http://127.0.0.1:9")]  # fmt: skip
    code, out, _err = run_cli(
        capsys, "chaos", "validate", *files, *variables, "--provider", "aws", "--scope", str(SCOPE)
    )
    assert code == 3
    assert f"{files[0]}:22:12: method[0].fault: found http.abort, which has no FIS action" in out
    assert f"OK {files[1]}" in out


def test_parity_table_and_json(capsys: Capture) -> None:
    code, out, _err = run_cli(capsys, "chaos", "parity")
    assert code == 0
    for fault in FAULTS:
        assert fault in out
    assert "aws:rds:failover-db-cluster" in out and "refused with --provider aws" in out
    code, out, _err = run_cli(capsys, "chaos", "parity", "--json")
    rows = json.loads(out)
    assert [row["fault"] for row in rows] == list(FAULTS)
    latency = rows[0]
    assert latency["aws_action"] == "aws:ecs:task-network-latency" and latency["differs"]
    assert next(r for r in rows if r["fault"] == "http.abort")["aws_action"] is None


def test_parity_doc_does_not_drift() -> None:
    written = (ROOT / "docs" / "PARITY.md").read_text(encoding="utf-8")
    assert written == render_markdown(parity_rows()), (
        "docs/PARITY.md drifted: python -m ial_resilience.aws.fis_parity > docs/PARITY.md"
    )


@pytest.mark.parametrize("command", ["render", "stop", "parity"])
def test_help_teaches(capsys: Capture, command: str) -> None:
    code, out, _err = run_cli(capsys, "chaos", command, "--help")
    assert code == 0 and "FIS" in out
